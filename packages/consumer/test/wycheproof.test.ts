import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { SIGNING_ALGORITHMS, isSigningAlgorithm } from '@webhook-jwt/protocol'
import { checkCompactFormat, decodeJsonObject } from '../src/token/compact-jws.ts'
import { readKeySetDocument } from '../src/key-set/key-set-document.ts'
import { hasRocaFingerprint } from '../src/key-set/roca.ts'
import { verifySignature } from '../src/verify/verify-signature.ts'

// The Wycheproof JWS and JWK vectors (vectors/wycheproof, Apache-2.0), run through the consumer's own
// layers: the strict compact format, the key-set ingestion, and the signature check with the protocol's
// algorithm/key rules. The vectors are generic JWS (payload "foo", no typ, no claims), so the claim rules
// are not part of this check. Where the consumer refuses a vector marked valid, it is stricter by design,
// for one of the reasons below; no vector marked invalid is ever accepted. (The catalogue's skip list,
// tc 346/347/350/351/367/370, needs no exception here: all are refused, for their algorithm.)

interface Vector { tcId: number, comment: string, jws: string, result: 'valid' | 'invalid' | 'acceptable', flags: string[] }
interface Group { public?: unknown, private?: unknown, tests: Vector[] }

type Verdict = 'accepted' | 'format' | 'header' | 'algorithm' | 'no-kid' | 'key-set-refused' | 'unknown-kid' | 'signature'

/** Why a vector marked valid may still be refused: the protocol asks for more than JWS does. */
const STRICTER_BY_DESIGN: Record<Exclude<Verdict, 'accepted' | 'signature'>, string> = {
  format: 'an empty payload (the protocol signs a claims object), or characters outside base64url (tc 372/373 carry "?" yet are labelled valid)',
  header: 'a header that is not a strict JSON object',
  algorithm: `an algorithm outside the protocol's asymmetric set (${SIGNING_ALGORITHMS.join(', ')}): HS*, RS384/512, PS384/512, ES512`,
  'no-kid': 'no kid: the protocol requires one',
  'key-set-refused': 'a key set the consumer refuses whole (symmetric keys)',
  'unknown-kid': 'a key the consumer does not use (use "enc", key_ops without "verify", alg not matching the key)'
}

async function verdict (jws: string, jwks: unknown): Promise<Verdict> {
  let header: Record<string, unknown>
  try {
    header = decodeJsonObject(checkCompactFormat(jws, 1 << 20)[0])
  } catch {
    return 'format'
  }
  if (!isSigningAlgorithm(header.alg)) return 'algorithm'
  if (typeof header.kid !== 'string') return 'no-kid'
  let keys
  try {
    keys = await readKeySetDocument(jwks, { maxKeys: 50, requireThumbprintKids: false })
  } catch {
    return 'key-set-refused'
  }
  const key = keys.get(header.kid)
  if (key === undefined) return 'unknown-kid'
  try {
    await verifySignature(jws, key, header.alg)
  } catch {
    return 'signature'
  }
  return 'accepted'
}

async function run (t: { not: (found: unknown, wanted: unknown, message: string) => unknown, ok: (value: unknown, message: string) => unknown }, file: string, jwksOf: (group: Group) => unknown): Promise<Record<string, number>> {
  const vectors = JSON.parse(readFileSync(new URL(`./vectors/wycheproof/${file}`, import.meta.url), 'utf8')) as { testGroups: Group[] }
  const tally: Record<string, number> = {}
  for (const group of vectors.testGroups) {
    for (const vector of group.tests) {
      const result = await verdict(vector.jws, jwksOf(group))
      const label = `tc ${vector.tcId} ${vector.comment} (${vector.result}): ${result}`
      if (vector.result === 'invalid') t.not(result, 'accepted', label)
      if (vector.result === 'valid' && result !== 'accepted') t.ok(result in STRICTER_BY_DESIGN, label)
      const key = `${vector.result}:${result}`
      tally[key] = (tally[key] ?? 0) + 1
    }
  }
  return tally
}

t.test('Wycheproof JWS vectors: no invalid signature accepted; valid ones accepted unless the protocol is stricter', async (t) => {
  // Groups without a public key carry their key set in "private" (symmetric groups): that is what a
  // careless publisher would serve, and what the consumer must refuse.
  const tally = await run(t, 'json_web_signature_test.json', (group) => ({ keys: [group.public ?? group.private].filter(Boolean) }))
  t.same(tally, {
    'valid:accepted': 14,
    'valid:algorithm': 24,
    'valid:format': 8,
    'invalid:signature': 283,
    'invalid:format': 47,
    'invalid:algorithm': 17,
    'invalid:unknown-kid': 8
  }, 'every vector accounted for: 401 in all')
})

t.test('Wycheproof JWK vectors: weak, mismatched and symmetric key sets are refused', async (t) => {
  const tally = await run(t, 'json_web_key_test.json', (group) => group.public ?? group.private)
  t.same(tally, {
    'valid:accepted': 1,
    'valid:algorithm': 4,
    'invalid:algorithm': 11,
    'invalid:unknown-kid': 6,
    'invalid:key-set-refused': 2,
    'invalid:format': 2
  }, 'the RS256 vector verifies; the HMAC ones are refused for their algorithm; all 26 accounted for')
})

t.test('the ROCA fingerprint flags the vulnerable vector key and no freshly generated key', async (t) => {
  const vectors = JSON.parse(readFileSync(new URL('./vectors/wycheproof/json_web_key_test.json', import.meta.url), 'utf8')) as { testGroups: Array<Group & { public: { keys: Array<{ kid: string, n: string }> } }> }
  const roca = vectors.testGroups.flatMap((group) => group.public?.keys ?? []).find((key) => key.kid === 'kid-rsa-roca-sign')
  t.ok(hasRocaFingerprint(roca?.n as string))
  for (let i = 0; i < 5; i++) t.notOk(hasRocaFingerprint(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n as string))
})
