import t, { type Test } from 'tap'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto'
import Fastify from 'fastify'
import jwt, { type Algorithm } from 'jsonwebtoken'
import { JwksClient } from 'jwks-rsa'
import { createSigner, createVerifier } from 'fast-jwt'
import buildGetJwks from 'get-jwks'
import fastifyJwt, { type TokenOrHeader } from '@fastify/jwt'
import { SignJWT, type JWK } from 'jose'
import { memoryKeyStore, type SignedWebhook } from '@webhook-jwt/producer'
import { createManualClock, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { verifySignature } from '../packages/consumer/src/verify/verify-signature.ts'
import { readKeySetDocument, type VerificationKey } from '../packages/consumer/src/key-set/key-set-document.ts'
import { AUDIENCE, ISSUER, startReceiver, startSender, type Receiver, type Sender } from './support/webhook-pair.ts'
import { publishedKey, serveJwks, type PublishedKey } from './support/jwks-endpoint.ts'

// The wire contract (docs/protocol.md) against JOSE stacks we did not write, over real HTTP on loopback:
// 1. our producer's tokens and JWKS, read by jsonwebtoken + jwks-rsa, fast-jwt + get-jwks and @fastify/jwt;
// 2. tokens those libraries sign with their own keys, read by our consumer;
// 3. the RFC 7515 A.3 and RFC 8037 A.4 examples, read by our consumer.

const ALGORITHMS: SigningAlgorithm[] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']
// Not ASCII, so that a digest over re-encoded text rather than the exact bytes would show.
const EVENT = { type: 'invoice.paid', invoice: 'in_42', customer: 'Zoë Ångström' }
// Windows of seconds, so that a rotation (publish 1.5 s before the switch, retire 2.5 s after) takes about 4 s.
const ROTATION = { tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: false as const } }

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64url')

async function senderWith (t: Test, algorithm: SigningAlgorithm): Promise<Sender> {
  return await startSender(t, { algorithm, keyStore: memoryKeyStore(), rotation: { every: false } })
}

// ---------------------------------------------------------------------------------------------------------
// 1. Our producer, read by other stacks

/** What a receiver's stack reports for one delivery: the header and claims it verified, and its own digest of the body bytes. */
interface Verified {
  header: Record<string, unknown>
  claims: Record<string, unknown>
  bodyDigest: string
}

/** A receiver's JOSE stack: verifies one delivery, fetching the sender's JWKS over HTTP; throws if it refuses it. */
type Stack = (signed: SignedWebhook) => Promise<Verified>

/** What every stack must see in a producer delivery. */
function checkDelivery (t: Test, verified: Verified, signed: SignedWebhook, algorithm: SigningAlgorithm): void {
  t.same(verified.header, { alg: algorithm, kid: signed.kid, typ: 'webhook+jwt' }, 'the protocol header, nothing else')
  // jti: at least 128 random bits, so at least 22 base64url characters.
  t.match(verified.claims, { iss: ISSUER, aud: AUDIENCE, webhook_id: signed.id, jti: /^[A-Za-z0-9_-]{22,}$/ })
  t.equal(verified.claims.body_sha256, verified.bodyDigest, 'body_sha256 is the base64url SHA-256 of the exact body bytes')
}

/** jsonwebtoken, with the key jwks-rsa fetched for the token's kid. */
function jsonwebtokenStack (_t: Test, sender: Sender, algorithm: SigningAlgorithm): Stack {
  const jwks = new JwksClient({ jwksUri: sender.jwksUrl.href })
  return async (signed) => {
    const kid = jwt.decode(signed.token, { complete: true })?.header.kid
    const key = await jwks.getSigningKey(kid)
    const { header, payload } = jwt.verify(signed.token, key.getPublicKey(), { algorithms: [algorithm as Algorithm], issuer: ISSUER, audience: AUDIENCE, complete: true })
    return { header: { ...header }, claims: payload as Record<string, unknown>, bodyDigest: sha256(signed.body) }
  }
}

/**
 * The PEM of a token's key, from get-jwks. get-jwks reads `domain` + `jwksPath`; the domain is pinned to the
 * sender's address here. (The @fastify/jwt README passes the token's own `iss`, which would let a token say
 * where its key comes from, and our `iss` is a name, not where the keys are.)
 */
function getJwksKeys (sender: Sender): (header: Record<string, unknown>) => Promise<string> {
  const getJwks = buildGetJwks({ jwksPath: sender.jwksUrl.pathname })
  return async (header) => {
    const signature = { domain: sender.jwksUrl.origin, kid: header.kid as string, alg: header.alg as string }
    // getPublicKey converts with jwk-to-pem, which knows EC and RSA keys only (see the EdDSA limitation test):
    // an Ed25519 key is converted from the JWK get-jwks returns, with node:crypto.
    if (header.alg !== 'EdDSA') return await getJwks.getPublicKey(signature)
    const jwk = await getJwks.getJwk(signature)
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string
  }
}

/** fast-jwt, with an async key fetcher on get-jwks. */
function fastJwtStack (_t: Test, sender: Sender, algorithm: SigningAlgorithm): Stack {
  const keyFor = getJwksKeys(sender)
  const verify = createVerifier({
    key: async ({ header }: { header: Record<string, unknown> }) => await keyFor(header),
    algorithms: [algorithm],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    checkTyp: 'webhook+jwt',
    complete: true
  })
  return async (signed) => {
    const { header, payload } = await verify(signed.token) as { header: Record<string, unknown>, payload: Record<string, unknown> }
    return { header, claims: payload, bodyDigest: sha256(signed.body) }
  }
}

/** A receiver app with @fastify/jwt (its README's JWKS set-up) that answers each delivery with what it verified. */
async function fastifyJwtStack (t: Test, sender: Sender, algorithm: SigningAlgorithm): Promise<Stack> {
  const app = Fastify()
  t.teardown(() => app.close())
  const keyFor = getJwksKeys(sender)
  await app.register(fastifyJwt, {
    decode: { complete: true },
    // With decode.complete, the second argument is the decoded token.
    secret: async (_request: unknown, token: TokenOrHeader) => await keyFor((token as { header: Record<string, unknown> }).header),
    verify: { algorithms: [algorithm], allowedIss: ISSUER, allowedAud: AUDIENCE, checkTyp: 'webhook+jwt', complete: true }
  })
  // The body as the bytes that arrived, so that the digest is of exactly those.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })
  app.post('/hooks', async (request) => {
    const { header, payload } = await request.jwtVerify<{ header: Record<string, unknown>, payload: Record<string, unknown> }>()
    return { header, claims: payload, bodyDigest: sha256(request.body as Buffer) }
  })
  const url = new URL('/hooks', await app.listen({ port: 0, host: '127.0.0.1' }))
  return async (signed) => {
    const response = await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body })
    if (response.status !== 200) throw new Error(`@fastify/jwt answered ${response.status}: ${await response.text()}`)
    return await response.json() as Verified
  }
}

const STACKS: Array<{ name: string, algorithms: SigningAlgorithm[], start: (t: Test, sender: Sender, algorithm: SigningAlgorithm) => Stack | Promise<Stack> }> = [
  // No EdDSA: jsonwebtoken cannot verify it (its own test below).
  { name: 'jsonwebtoken + jwks-rsa', algorithms: ['ES256', 'ES384', 'RS256', 'PS256'], start: jsonwebtokenStack },
  { name: 'fast-jwt + get-jwks', algorithms: ALGORITHMS, start: fastJwtStack },
  { name: '@fastify/jwt + get-jwks', algorithms: ALGORITHMS, start: fastifyJwtStack }
]

// One sender per algorithm (RSA keys are slow to generate); each stack verifies a delivery of its own.
for (const algorithm of ALGORITHMS) {
  t.test(`1. a producer delivery signed with ${algorithm}, verified by other stacks that fetch its JWKS`, async (t) => {
    const sender = await senderWith(t, algorithm)
    for (const stack of STACKS.filter((stack) => stack.algorithms.includes(algorithm))) {
      t.test(`${stack.name} verifies it`, async (t) => {
        const verify = await stack.start(t, sender, algorithm)
        const signed = await sender.app.webhooks.sign(EVENT, { audience: AUDIENCE, id: 'evt_42' })
        checkDelivery(t, await verify(signed), signed, algorithm)
      })
    }
  })
}

t.test('1. jsonwebtoken cannot verify EdDSA (it knows no Ed25519 keys), although jwks-rsa reads the key', async (t) => {
  const sender = await senderWith(t, 'EdDSA')
  const signed = await sender.app.webhooks.sign(EVENT, { audience: AUDIENCE })
  const key = await new JwksClient({ jwksUri: sender.jwksUrl.href }).getSigningKey(signed.kid)
  t.equal(key.alg, 'EdDSA')
  // jsonwebtoken 9 implements HS*, RS*, PS* and ES* only; @types/jsonwebtoken has no 'EdDSA' either, hence the cast.
  t.throws(() => jwt.verify(signed.token, key.getPublicKey(), { algorithms: ['EdDSA'] as unknown as Algorithm[], issuer: ISSUER, audience: AUDIENCE }), { message: 'Unknown key type "ed25519".' })
})

t.test('1. get-jwks getPublicKey cannot convert an Ed25519 key (jwk-to-pem knows EC and RSA); getJwk returns it', async (t) => {
  const sender = await senderWith(t, 'EdDSA')
  const { kid } = await sender.app.webhooks.sign(EVENT, { audience: AUDIENCE })
  const getJwks = buildGetJwks({ jwksPath: sender.jwksUrl.pathname })
  const signature = { domain: sender.jwksUrl.origin, kid, alg: 'EdDSA' }
  await t.rejects(getJwks.getPublicKey(signature), { message: 'Unsupported key type "OKP"' })
  t.match(await getJwks.getJwk(signature), { kty: 'OKP', crv: 'Ed25519', kid, alg: 'EdDSA', use: 'sig' })
})

t.test('1. jwks-rsa and get-jwks read every key of the producer\'s JWKS: both keys while a rotation runs', async (t) => {
  const sender = await startSender(t, { ...ROTATION, keyStore: memoryKeyStore() })
  const nextPublished = new Promise<void>((resolve) => {
    sender.app.webhooks.on('transition', (event) => { if (event.to === 'next') resolve() })
  })
  const rotation = sender.app.webhooks.rotate()
  await nextPublished
  const { keys } = await (await fetch(sender.jwksUrl)).json() as { keys: Array<{ kid: string, alg: string }> }
  const published = keys.map((key) => key.kid).sort()
  t.equal(published.length, 2, 'the active key and the next one')
  const signingKeys = await new JwksClient({ jwksUri: sender.jwksUrl.href }).getSigningKeys()
  t.same(signingKeys.map((key) => key.kid).sort(), published, 'jwks-rsa lists every published kid')
  const getJwks = buildGetJwks({ jwksPath: sender.jwksUrl.pathname })
  for (const { kid, alg } of keys) {
    t.match(await getJwks.getJwk({ domain: sender.jwksUrl.origin, kid, alg }), { kid, alg, use: 'sig' }, `get-jwks returns ${kid}`)
  }
  await rotation
})

t.test('1. after rotate(), tokens under the new kid verify with every stack, whose caches hold the old key', async (t) => {
  const sender = await startSender(t, { ...ROTATION, keyStore: memoryKeyStore() })
  const stacks = await Promise.all(STACKS.map(async (stack) => await stack.start(t, sender, 'ES256')))
  const before = await sender.app.webhooks.sign(EVENT, { audience: AUDIENCE })
  for (const verify of stacks) checkDelivery(t, await verify(before), before, 'ES256')
  const { previousKid, activeKid } = await sender.app.webhooks.rotate()
  const after = await sender.app.webhooks.sign(EVENT, { audience: AUDIENCE })
  t.equal(previousKid, before.kid)
  t.equal(after.kid, activeKid)
  t.not(activeKid, previousKid)
  // The same clients as before. Each caches keys by kid (jwks-rsa memoizes getSigningKey per kid, get-jwks keys
  // its cache on alg, kid and domain), so a new kid is a cache miss that fetches the set again: nothing is
  // invalidated by hand.
  for (const verify of stacks) checkDelivery(t, await verify(after), after, 'ES256')
})

// ---------------------------------------------------------------------------------------------------------
// 2. Other libraries' tokens, read by our consumer

interface ForeignKey {
  privateKey: KeyObject
  published: PublishedKey
}

function generateKeys (algorithm: SigningAlgorithm): { privateKey: KeyObject, publicKey: KeyObject } {
  switch (algorithm) {
    case 'ES256': return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    case 'ES384': return generateKeyPairSync('ec', { namedCurve: 'P-384' })
    case 'EdDSA': return generateKeyPairSync('ed25519')
    default: return generateKeyPairSync('rsa', { modulusLength: 2048 })
  }
}

// One key pair per key type for the whole file (RS256 and PS256 share the RSA pair): RSA generation is slow,
// and each test publishes its key on its own JWKS endpoint anyway.
const keyPairs = new Map<string, { privateKey: KeyObject, publicKey: KeyObject }>()

async function foreignKey (algorithm: SigningAlgorithm): Promise<ForeignKey> {
  const type = algorithm === 'RS256' || algorithm === 'PS256' ? 'RSA' : algorithm
  const pair = keyPairs.get(type) ?? generateKeys(algorithm)
  keyPairs.set(type, pair)
  return { privateKey: pair.privateKey, published: await publishedKey(pair.publicKey.export({ format: 'jwk' }) as JWK, algorithm) }
}

/** The claims of docs/protocol.md §2 for `body`, issued at `iat` with a 300 s lifetime. */
function protocolClaims (body: Uint8Array, iat = Math.floor(Date.now() / 1000)): Record<string, unknown> & { webhook_id: string } {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    iat,
    exp: iat + 300,
    jti: randomBytes(16).toString('base64url'),
    webhook_id: `evt_${randomBytes(8).toString('hex')}`,
    body_sha256: sha256(body)
  }
}

type ForeignSigner = (claims: Record<string, unknown>, key: ForeignKey, header: Record<string, string>) => string

const SIGNERS: Record<'jsonwebtoken' | 'fast-jwt', ForeignSigner> = {
  jsonwebtoken: (claims, key, header) => {
    const alg = key.published.alg
    return jwt.sign(claims, key.privateKey, { algorithm: alg as Algorithm, header: { ...header, alg } })
  },
  'fast-jwt': (claims, key, header) => {
    const alg = key.published.alg as SigningAlgorithm
    const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    return createSigner({ key: pem, algorithm: alg, header: { ...header, alg } })(claims)
  }
}

async function post (url: URL, token: string, body: Uint8Array): Promise<{ status: number, code: string | undefined }> {
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body })
  return { status: response.status, code: (await response.json() as { code?: string }).code }
}

const FOREIGN: Array<{ name: keyof typeof SIGNERS, algorithms: SigningAlgorithm[] }> = [
  { name: 'jsonwebtoken', algorithms: ['ES256', 'ES384', 'RS256', 'PS256'] }, // no EdDSA: see above
  { name: 'fast-jwt', algorithms: ALGORITHMS }
]

for (const { name, algorithms } of FOREIGN) {
  for (const algorithm of algorithms) {
    t.test(`2. the consumer accepts a protocol token signed by ${name} with ${algorithm}, under its own key and JWKS`, async (t) => {
      const key = await foreignKey(algorithm)
      const receiver = await startReceiver(t, await serveJwks(t, [key.published]), { algorithms: [algorithm] })
      const body = Buffer.from(JSON.stringify(EVENT))
      const claims = protocolClaims(body)
      const token = SIGNERS[name](claims, key, { typ: 'webhook+jwt', kid: key.published.kid })
      t.same(await post(receiver.url, token, body), { status: 200, code: undefined })
      t.same(receiver.received, [{ id: claims.webhook_id, issuer: ISSUER, kid: key.published.kid, claims }])
    })
  }
}

t.test('2. a jsonwebtoken token left with its default typ (JWT) gets 401 WEBHOOK_TOKEN_TYPE_INVALID', async (t) => {
  const key = await foreignKey('ES256')
  const receiver = await startReceiver(t, await serveJwks(t, [key.published]))
  const body = Buffer.from(JSON.stringify(EVENT))
  const token = SIGNERS.jsonwebtoken(protocolClaims(body), key, { kid: key.published.kid })
  t.equal(jwt.decode(token, { complete: true })?.header.typ, 'JWT')
  t.same(await post(receiver.url, token, body), { status: 401, code: 'WEBHOOK_TOKEN_TYPE_INVALID' })
  t.same(receiver.received, [])
})

t.test('2. a fast-jwt token whose body_sha256 is of other bytes gets 401 WEBHOOK_BODY_DIGEST_MISMATCH', async (t) => {
  const key = await foreignKey('ES256')
  const receiver = await startReceiver(t, await serveJwks(t, [key.published]))
  const token = SIGNERS['fast-jwt'](protocolClaims(Buffer.from(JSON.stringify(EVENT))), key, { typ: 'webhook+jwt', kid: key.published.kid })
  const tampered = Buffer.from(JSON.stringify({ ...EVENT, invoice: 'in_43' }))
  t.same(await post(receiver.url, token, tampered), { status: 401, code: 'WEBHOOK_BODY_DIGEST_MISMATCH' })
  t.same(receiver.received, [])
})

// ---------------------------------------------------------------------------------------------------------
// 3. The RFC examples, read by our consumer

// RFC 7515 Appendix A.3: the P-256 key of A.3.1 (its private `d` is printed there too) and the JWS of A.3.1.
const RFC7515_A3_KEY: JWK = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }
const RFC7515_A3_D = 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI'
const RFC7515_A3_JWS = 'eyJhbGciOiJFUzI1NiJ9' +
  '.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ' +
  '.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q'
const RFC7515_A3_PAYLOAD = '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
const RFC7515_A3_EXP = 1300819380
// Its thumbprint, as @webhook-jwt/protocol's tests pin it (RFC 7515 prints none).
const RFC7515_A3_KID = 'oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U'

// RFC 8037: the Ed25519 key of A.1 (public half), its thumbprint from A.3, and the JWS of A.4.
const RFC8037_A1_KEY: JWK = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }
const RFC8037_A3_KID = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k'
const RFC8037_A4_JWS = 'eyJhbGciOiJFZERTQSJ9' +
  '.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc' +
  '.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg'

async function rfcKeys (): Promise<PublishedKey[]> {
  return [await publishedKey(RFC7515_A3_KEY, 'ES256'), await publishedKey(RFC8037_A1_KEY, 'EdDSA')]
}

/** The key the consumer builds from the RFC keys published as a JWK Set, through its own key-set checks. */
async function consumerKey (kid: string): Promise<VerificationKey> {
  const keys = await readKeySetDocument({ keys: await rfcKeys() }, { maxKeys: 50, requireThumbprintKids: true })
  return keys.get(kid) as VerificationKey
}

/** `compact` with the first byte of its payload changed. */
function tamperPayload (compact: string): string {
  const [header, payload, signature] = compact.split('.') as [string, string, string]
  const bytes = Buffer.from(payload, 'base64url')
  bytes.writeUInt8(bytes.readUInt8(0) ^ 1, 0)
  return `${header}.${bytes.toString('base64url')}.${signature}`
}

const payloadOf = (compact: string): string => Buffer.from(compact.split('.')[1] as string, 'base64url').toString()

/** A receiver whose JWKS holds both RFC keys, on a clock frozen at `nowSec`, with no clock tolerance. */
async function rfcReceiver (t: Test, nowSec: number): Promise<Receiver> {
  const receiver = await startReceiver(t, await serveJwks(t, await rfcKeys()), { algorithms: ['ES256', 'EdDSA'], clockTolerance: 0, clock: createManualClock(nowSec * 1000) })
  t.same(receiver.app.webhookConsumer.status()[0]?.kids, [RFC7515_A3_KID, RFC8037_A3_KID], 'the receiver accepted the RFC keys under their thumbprints')
  return receiver
}

t.test('3. RFC 7515 A.3 passes the consumer\'s signature check, and fails it with one payload byte changed', async (t) => {
  t.equal(payloadOf(RFC7515_A3_JWS), RFC7515_A3_PAYLOAD)
  const key = await consumerKey(RFC7515_A3_KID)
  await t.resolves(verifySignature(RFC7515_A3_JWS, key, 'ES256'))
  await t.rejects(verifySignature(tamperPayload(RFC7515_A3_JWS), key, 'ES256'), { code: 'WEBHOOK_SIGNATURE_INVALID' })
})

t.test('3. RFC 8037 A.4 passes the consumer\'s signature check, and fails it with one payload byte changed', async (t) => {
  t.equal(payloadOf(RFC8037_A4_JWS), 'Example of Ed25519 signing')
  const key = await consumerKey(RFC8037_A3_KID)
  await t.resolves(verifySignature(RFC8037_A4_JWS, key, 'EdDSA'))
  await t.rejects(verifySignature(tamperPayload(RFC8037_A4_JWS), key, 'EdDSA'), { code: 'WEBHOOK_SIGNATURE_INVALID' })
})

// The RFC tokens are plain JWS examples, not webhook tokens, so a receiver must refuse them whole. It stops at
// the first failed check (packages/consumer/README.md, "What is checked"), and that decides the code.

t.test('3. a receiver refuses RFC 7515 A.3 with 401 WEBHOOK_TOKEN_TYPE_INVALID: its header has no typ', async (t) => {
  // Frozen one second before the example's exp, so that the refusal cannot be for its age.
  const receiver = await rfcReceiver(t, RFC7515_A3_EXP - 1)
  t.same(await post(receiver.url, RFC7515_A3_JWS, Buffer.from('{}')), { status: 401, code: 'WEBHOOK_TOKEN_TYPE_INVALID' })
})

t.test('3. a receiver refuses RFC 8037 A.4 with 401 WEBHOOK_TOKEN_MALFORMED: its payload is text, not a claims set', async (t) => {
  const receiver = await rfcReceiver(t, RFC7515_A3_EXP - 1)
  t.same(await post(receiver.url, RFC8037_A4_JWS, Buffer.from('{}')), { status: 401, code: 'WEBHOOK_TOKEN_MALFORMED' })
})

// The A.3 token itself cannot show its `exp` being honoured: typ, kid, iss (it has "joe") and aud are checked
// before exp, and it has none that pass. So the next two tests send a protocol token under the same RFC key
// (signed with the RFC's own `d`) that carries the RFC's exp, 1300819380, to a receiver on a frozen clock.
async function tokenUnderRfc7515Key (body: Uint8Array): Promise<string> {
  const privateKey = createPrivateKey({ key: { ...RFC7515_A3_KEY, d: RFC7515_A3_D } as JsonWebKey, format: 'jwk' })
  return await new SignJWT(protocolClaims(body, RFC7515_A3_EXP - 300))
    .setProtectedHeader({ alg: 'ES256', typ: 'webhook+jwt', kid: RFC7515_A3_KID })
    .sign(privateKey)
}

t.test('3. the RFC 7515 A.3 exp on a frozen clock: one second before it, a token under the A.3 key is accepted', async (t) => {
  const receiver = await rfcReceiver(t, RFC7515_A3_EXP - 1)
  const body = Buffer.from(JSON.stringify(EVENT))
  t.same(await post(receiver.url, await tokenUnderRfc7515Key(body), body), { status: 200, code: undefined })
  t.match(receiver.received, [{ kid: RFC7515_A3_KID, claims: { exp: RFC7515_A3_EXP } }])
})

t.test('3. the RFC 7515 A.3 exp on a frozen clock: at it, the same token is refused with 401 WEBHOOK_TOKEN_EXPIRED', async (t) => {
  const receiver = await rfcReceiver(t, RFC7515_A3_EXP)
  const body = Buffer.from(JSON.stringify(EVENT))
  t.same(await post(receiver.url, await tokenUnderRfc7515Key(body), body), { status: 401, code: 'WEBHOOK_TOKEN_EXPIRED' })
  t.same(receiver.received, [])
})
