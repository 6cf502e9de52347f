import { constants, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { compactVerify, type JWK } from 'jose'
import { isSigningAlgorithm, keyIdOf, toPublishedJwk, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { readKeySetDocument, type VerificationKey } from '../src/key-set/key-set-document.ts'
import { checkCompactFormat, decodeJsonObject } from '../src/token/compact-jws.ts'
import { verifySignature } from '../src/verify/verify-signature.ts'

// The consumer checks signatures with node:crypto on its cached KeyObjects, not through jose. That is only
// acceptable if it accepts and refuses exactly what jose does: over the Wycheproof JWS vectors, tokens
// signed the wrong ways, and thousands of randomly mutated tokens, per algorithm, the two must agree on
// every token the consumer's format check lets through (the format check is stricter by design and runs
// first in the consumer, so tokens it refuses never reach the signature).

async function joseAccepts (token: string, key: KeyObject, alg: SigningAlgorithm): Promise<boolean> {
  try {
    await compactVerify(token, key, { algorithms: [alg] })
    return true
  } catch {
    return false
  }
}

async function fastPathAccepts (token: string, key: VerificationKey, alg: SigningAlgorithm): Promise<boolean> {
  try {
    await verifySignature(token, key, alg)
    return true
  } catch {
    return false
  }
}

/** Whether the consumer's format check lets the token through to the signature. */
function wellFormed (token: string): boolean {
  try {
    decodeJsonObject(checkCompactFormat(token, 1 << 20)[0])
    return true
  } catch {
    return false
  }
}

// A seeded generator (mulberry32): the mutations are the same on every run, and a failure can be replayed.
function random (seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let value = Math.imul(state ^ (state >>> 15), 1 | state)
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296
  }
}

interface SigningKey { alg: SigningAlgorithm, privateKey: KeyObject, verification: VerificationKey }

const b64 = (value: string | Buffer): string => Buffer.from(value).toString('base64url')

async function signingKey (alg: SigningAlgorithm): Promise<SigningKey> {
  const { privateKey } = alg === 'EdDSA'
    ? generateKeyPairSync('ed25519')
    : alg.startsWith('ES')
      ? generateKeyPairSync('ec', { namedCurve: alg === 'ES384' ? 'P-384' : 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK
  const kid = await keyIdOf(jwk)
  const keys = await readKeySetDocument({ keys: [toPublishedJwk(jwk, { kid, alg })] }, { maxKeys: 1, requireThumbprintKids: true })
  return { alg, privateKey, verification: keys.get(kid) as VerificationKey }
}

function signatureOf (key: SigningKey, input: string, options: { dsaEncoding?: 'der' | 'ieee-p1363', saltLength?: number, pkcs1?: boolean } = {}): Buffer {
  const digest = key.alg === 'EdDSA' ? null : key.alg === 'ES384' ? 'sha384' : 'sha256'
  if (key.alg.startsWith('ES')) return sign(digest, Buffer.from(input), { key: key.privateKey, dsaEncoding: options.dsaEncoding ?? 'ieee-p1363' })
  if (key.alg === 'PS256' && options.pkcs1 !== true) return sign(digest, Buffer.from(input), { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: options.saltLength ?? 32 })
  return sign(digest, Buffer.from(input), key.privateKey)
}

function tokenFor (key: SigningKey, claims: Record<string, unknown>, options?: Parameters<typeof signatureOf>[2]): string {
  const input = `${b64(JSON.stringify({ alg: key.alg, kid: key.verification.kid, typ: 'webhook+jwt' }))}.${b64(JSON.stringify(claims))}`
  return `${input}.${b64(signatureOf(key, input, options))}`
}

/** One random change: a flipped bit, a byte changed, cut, added or moved, in one segment or across them. */
function mutate (token: string, alternate: string, next: () => number): string {
  const pick = (n: number): number => Math.floor(next() * n)
  const segments = token.split('.') as [string, string, string]
  const which = pick(3) as 0 | 1 | 2
  const bytes = Buffer.from(segments[which], 'base64url')
  switch (pick(6)) {
    case 0: {
      const at = pick(bytes.length)
      bytes[at] = (bytes[at] as number) ^ (1 << pick(8))
      break
    }
    case 1:
      bytes[pick(bytes.length)] = pick(256)
      break
    case 2:
      segments[which] = b64(bytes.subarray(0, pick(bytes.length)))
      return segments.join('.')
    case 3:
      segments[which] = b64(Buffer.concat([bytes, Buffer.from([pick(256)])]))
      return segments.join('.')
    case 4:
      // Another good token's segment in its place: a valid signature over other bytes, or theirs over ours.
      segments[which] = alternate.split('.')[which] as string
      return segments.join('.')
    default:
      bytes.reverse()
  }
  segments[which] = b64(bytes)
  return segments.join('.')
}

const ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
const MUTATIONS_PER_ALGORITHM = 1500

for (const alg of ALGORITHMS) {
  t.test(`${alg}: the fast path and jose agree on good, wrongly signed and ${MUTATIONS_PER_ALGORITHM} mutated tokens`, async (t) => {
    const key = await signingKey(alg)
    const other = await signingKey(alg)
    const next = random(ALGORITHMS.indexOf(alg) + 1)
    const claims = { iss: 'https://sender.test', aud: 'https://receiver.test/hooks', iat: 1, exp: 2, jti: 'j', webhook_id: 'wh_1', body_sha256: 'x'.repeat(43) }
    const good = tokenFor(key, claims)
    const alternate = tokenFor(key, { ...claims, jti: 'another' })
    const wrongWays: Array<[string, string]> = [
      ['good', good],
      ['signed by another key', tokenFor({ ...other, verification: key.verification }, claims)],
      ['empty signature', `${good.slice(0, good.lastIndexOf('.'))}.`]
    ]
    if (alg.startsWith('ES')) {
      wrongWays.push(['DER-encoded ECDSA signature', tokenFor(key, claims, { dsaEncoding: 'der' })])
      // (r, n - s) verifies as ECDSA, and both jose (WebCrypto) and OpenSSL accept it: they must agree.
      wrongWays.push(['high-S signature', highS(good, alg)])
    }
    if (alg === 'PS256') {
      wrongWays.push(['PSS with a 0-byte salt', tokenFor(key, claims, { saltLength: 0 })], ['PSS with a 64-byte salt', tokenFor(key, claims, { saltLength: 64 })], ['PKCS#1 v1.5 signature', tokenFor(key, claims, { pkcs1: true })])
    }
    if (alg === 'RS256') wrongWays.push(['PSS signature under RS256', tokenFor({ ...key, alg: 'PS256' }, claims).replace(/^[^.]+/, good.slice(0, good.indexOf('.')))])
    for (const [name, token] of wrongWays) {
      t.equal(await fastPathAccepts(token, key.verification, alg), await joseAccepts(token, key.verification.keyObject, alg), name)
    }
    t.ok(await fastPathAccepts(good, key.verification, alg), 'a good token is accepted')

    let compared = 0
    let accepted = 0
    for (let index = 0; index < MUTATIONS_PER_ALGORITHM; index++) {
      const token = mutate(good, alternate, next)
      // A mutation that left the token as it was (the other token's header is the same, say) proves nothing.
      if (token === good || !wellFormed(token)) continue
      compared++
      const fast = await fastPathAccepts(token, key.verification, alg)
      if (fast) accepted++
      const jose = await joseAccepts(token, key.verification.keyObject, alg)
      if (fast !== jose) t.fail(`mutation ${index} differs: fast path ${String(fast)}, jose ${String(jose)}: ${token}`)
    }
    t.ok(compared > MUTATIONS_PER_ALGORITHM / 4, `${compared} well-formed mutations compared`)
    t.equal(accepted, 0, 'every changed token is refused')
  })
}

function highS (token: string, alg: SigningAlgorithm): string {
  const order = alg === 'ES384'
    ? BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973')
    : BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
  const size = alg === 'ES384' ? 48 : 32
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  const s = BigInt(`0x${signature.subarray(size).toString('hex')}`)
  const flipped = Buffer.from((order - s).toString(16).padStart(size * 2, '0'), 'hex')
  return `${token.slice(0, dot)}.${b64(Buffer.concat([signature.subarray(0, size), flipped]))}`
}

t.test('Wycheproof JWS vectors: the fast path and jose agree on every vector the consumer can take to its signature check', async (t) => {
  interface Vector { tcId: number, jws: string }
  const vectors = JSON.parse(readFileSync(new URL('./vectors/wycheproof/json_web_signature_test.json', import.meta.url), 'utf8')) as { testGroups: Array<{ public?: unknown, tests: Vector[] }> }
  let compared = 0
  for (const group of vectors.testGroups) {
    const keys = await readKeySetDocument(group.public === undefined ? { keys: [] } : { keys: [group.public] }, { maxKeys: 50, requireThumbprintKids: false }).catch(() => null)
    for (const vector of group.tests) {
      if (keys === null || !wellFormed(vector.jws)) continue
      const header = decodeJsonObject(vector.jws.split('.')[0] as string)
      const key = typeof header.kid === 'string' ? keys.get(header.kid) : [...keys.values()][0]
      if (key === undefined || !isSigningAlgorithm(header.alg) || !key.algorithms.has(header.alg)) continue
      compared++
      t.equal(await fastPathAccepts(vector.jws, key, header.alg), await joseAccepts(vector.jws, key.keyObject, header.alg), `tc ${vector.tcId}`)
    }
  }
  t.ok(compared >= 10, `${compared} vectors compared`)
})
