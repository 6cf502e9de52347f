import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { JWK } from 'jose'
import { keyIdOf, toPublishedJwk } from '@webhook-jwt/protocol'
import { CaseBuilder, NOW, b64url } from './case-builder.ts'
import { tokenCases, type Define } from './cases-token.ts'
import { claimsCases } from './cases-claims.ts'
import type { ConformanceVectors, VectorCase, VectorKey } from './vector-format.ts'

// Builds docs/conformance/vectors.json from the fixed keys in keys.json and the case catalogue
// (cases-token.ts, cases-claims.ts). Every signature is deterministic, so running it again changes nothing
// unless a case or a key changed: `pnpm conformance:generate`, then commit the result. The suite fails when the
// checked-in file is not what this builds (test/conformance-vectors.test.ts).

export const VECTORS_PATH = fileURLToPath(new URL('vectors.json', import.meta.url))
const KEYS_PATH = fileURLToPath(new URL('keys.json', import.meta.url))
const PROTOCOL_PATH = fileURLToPath(new URL('../protocol.md', import.meta.url))

/** The algorithm each fixed key is published with. */
const KEY_ALGORITHMS: Record<string, string> = {
  es256: 'ES256',
  es384: 'ES384',
  eddsa: 'EdDSA',
  rs256: 'RS256',
  ps256: 'PS256',
  'es256-second': 'ES256',
  'es256-unpublished': 'ES256',
  'es512-other-type': 'ES512'
}

/** The version docs/protocol.md declares ("Protocol version: N"). */
export function protocolVersion (): number {
  const [, version] = /^Protocol version: \*\*(\d+)\*\*/m.exec(readFileSync(PROTOCOL_PATH, 'utf8')) as RegExpExecArray
  return Number(version)
}

function keySets (keys: ReadonlyMap<string, VectorKey>): Record<string, unknown> {
  const published = (name: string, changes: Record<string, unknown> = {}): Record<string, unknown> => ({ ...(keys.get(name) as VectorKey).publicJwk, ...changes })
  const protocol = ['es256', 'es384', 'eddsa', 'rs256', 'ps256', 'es256-second'].map((name) => published(name))
  const { alg: _alg, ...rsaWithoutAlg } = published('rs256')
  return {
    protocol: { keys: protocol },
    empty: { keys: [] },
    'rsa-without-alg': { keys: [rsaWithoutAlg] },
    'with-other-key-types': { keys: [...protocol, published('es512-other-type')] },
    'key-for-encryption': { keys: [published('es256', { use: 'enc' })] },
    'key-ops-without-verify': { keys: [published('es256', { key_ops: ['sign'] })] },
    'kid-not-thumbprint': { keys: [published('es256', { kid: 'es256-key-1' })] },
    'private-member': { keys: [published('es256', { d: (keys.get('es256') as VectorKey).privateJwk.d })] },
    'symmetric-key': { keys: [published('es256'), { kty: 'oct', k: b64url('a secret shared with nobody'), kid: 'hmac-1', alg: 'HS256', use: 'sig' }] },
    'duplicate-kid': { keys: [published('es256'), published('es256')] },
    'not-a-key-set': published('es256')
  }
}

/** Builds every vector from the fixed keys. */
export async function buildVectors (): Promise<ConformanceVectors> {
  const keys = new Map<string, VectorKey>()
  for (const [name, privateJwk] of Object.entries(JSON.parse(readFileSync(KEYS_PATH, 'utf8')) as Record<string, JWK>)) {
    const alg = KEY_ALGORITHMS[name] as string
    const kid = await keyIdOf(privateJwk)
    keys.set(name, { alg, kid, publicJwk: toPublishedJwk(privateJwk, { kid, alg }), privateJwk })
  }
  const cases: VectorCase[] = []
  const define: Define = (id, description, write) => {
    const builder = new CaseBuilder(id, description, keys)
    write(builder)
    cases.push(builder.build())
  }
  tokenCases(define)
  claimsCases(define)
  return {
    protocolVersion: protocolVersion(),
    description: 'Conformance vectors for webhook-jwt receivers (docs/protocol.md). Format: docs/conformance/README.md.',
    now: NOW,
    keySetCacheControl: 'public, max-age=600',
    keys: Object.fromEntries(keys),
    keySets: keySets(keys),
    cases
  }
}

/** The file's text: two-space JSON and a final newline. */
export function vectorsText (vectors: ConformanceVectors): string {
  return `${JSON.stringify(vectors, null, 2)}\n`
}

/* c8 ignore start: runs only when this file is executed as the generator; the regeneration test imports it
   and compares what it builds with the checked-in file, which must not be written over by a test run. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const vectors = await buildVectors()
  writeFileSync(VECTORS_PATH, vectorsText(vectors))
  console.log(`${vectors.cases.length} cases (${vectors.cases.reduce((sum, vector) => sum + vector.requests.length, 0)} requests) written to ${VECTORS_PATH}`)
}
/* c8 ignore stop */
