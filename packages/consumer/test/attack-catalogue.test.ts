import { createHmac, createPublicKey } from 'node:crypto'
import t from 'tap'
import { RECEIVER_ERRORS, receiverProblem, type ReceiverErrorCode } from '@webhook-jwt/protocol'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, base64url, claimsFor, signRaw, signSegments, signatureOf, testKey, tokenFor, type TestKey } from './helpers/token-factory.ts'

// The verifier rows of the attack catalogue (shared/reference/security-catalogue.md, section 2), one row
// per input. Every one is refused with its documented code, never reaches the handler, and none is a 500.

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

function header (key: TestKey, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'webhook+jwt', ...extra })
}

function withSignature (token: string, signature: Buffer | string): string {
  return `${token.split('.').slice(0, 2).join('.')}.${typeof signature === 'string' ? signature : signature.toString('base64url')}`
}

/** A segment whose last character differs only in bits the decoder drops: same bytes, non-canonical text. */
function nonCanonical (segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(segment.at(-1) as string)
  return segment.slice(0, -1) + (alphabet[last + 1] as string)
}

function derSignature (p1363: Buffer): Buffer {
  const integer = (bytes: Buffer): Buffer => {
    let trimmed = bytes
    while (trimmed.length > 1 && trimmed[0] === 0) trimmed = trimmed.subarray(1)
    if ((trimmed[0] as number) & 0x80) trimmed = Buffer.concat([Buffer.from([0]), trimmed])
    return Buffer.concat([Buffer.from([0x02, trimmed.length]), trimmed])
  }
  const body = Buffer.concat([integer(p1363.subarray(0, 32)), integer(p1363.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

t.test('every catalogue input is refused with its code', async (t) => {
  const key = await testKey()
  const attacker = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const attackerServer = await startJwksServer(t, { keys: [attacker.publicJwk] })
  const { app, handled } = await buildConsumer(t, server.url, { algorithms: ['ES256', 'RS256'], jwks: { cooldown: 0 } })
  const claims = JSON.stringify(claimsFor())
  const pem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' })
  const hmacToken = (secret: string | Buffer): string => {
    const input = `${base64url(header(key, { alg: 'HS256' }))}.${base64url(claims)}`
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
  }
  const valid = tokenFor(key)
  const [validHeader, validPayload] = valid.split('.') as [string, string]
  // Only an encoding whose length is not a multiple of four has spare bits to set.
  const headerWithSpareBits = ['a', 'ab', 'abc'].map((pad) => base64url(header(key, { pad }))).find((segment) => segment.length % 4 !== 0) as string

  const cases: Array<[string, string | undefined, ReceiverErrorCode, Record<string, string>?]> = [
    ['#1 alg none, empty signature', `${base64url(header(key, { alg: 'none' }))}.${base64url(claims)}.`, 'WEBHOOK_TOKEN_MALFORMED'],
    ...['none', 'None', 'NONE', 'nOnE'].map((alg): [string, string, ReceiverErrorCode] => [`#1 alg ${alg} with a signature`, signRaw(key, header(key, { alg }), claims), 'WEBHOOK_ALGORITHM_NOT_ALLOWED']),
    ['#2 alg missing', signRaw(key, JSON.stringify({ kid: key.kid, typ: 'webhook+jwt' }), claims), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#2 alg empty', signRaw(key, header(key, { alg: '' }), claims), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#2 alg as an array', signRaw(key, header(key, { alg: ['ES256'] }), claims), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#2 alg lower case', signRaw(key, header(key, { alg: 'es256' }), claims), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#3 HS256 with the PEM public key as secret', hmacToken(pem), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#3 HS256 with the JWK as secret', hmacToken(JSON.stringify(key.publicJwk)), 'WEBHOOK_ALGORITHM_NOT_ALLOWED'],
    ['#4 RS256 header on an EC key', withSignature(signRaw(key, header(key, { alg: 'RS256' }), claims), signatureOf(key, `${base64url(header(key, { alg: 'RS256' }))}.${base64url(claims)}`)), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#5 attacker key embedded as jwk, real kid', signRaw(attacker, header(key, { jwk: attacker.publicJwk }), claims), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#5 attacker key embedded as jwk, no kid', signRaw(attacker, JSON.stringify({ alg: 'ES256', typ: 'webhook+jwt', jwk: attacker.publicJwk }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#6 jku to an attacker key set', signRaw(attacker, header(key, { jku: attackerServer.url.href }), claims), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#6 x5u to an attacker', signRaw(attacker, header(key, { x5u: attackerServer.url.href }), claims), 'WEBHOOK_SIGNATURE_INVALID'],
    ...['../../../../dev/null', '/dev/null', "x' UNION SELECT '1';--", '|sleep 10', '__proto__', 'constructor', 'toString'].map((kid): [string, string, ReceiverErrorCode] => [`#7 kid ${kid}`, signRaw(key, header(key, { kid }), claims), 'WEBHOOK_KEY_UNKNOWN']),
    ['#7 kid empty', signRaw(key, header(key, { kid: '' }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#7 kid not a string', signRaw(key, header(key, { kid: 123 }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#7 kid too long', signRaw(key, header(key, { kid: 'k'.repeat(257) }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#8 crit [exp]', signRaw(key, header(key, { crit: ['exp'] }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#8 crit []', signRaw(key, header(key, { crit: [] }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#8 crit "b64"', signRaw(key, header(key, { crit: 'b64' }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#9 b64 false', signRaw(key, header(key, { b64: false, crit: ['b64'] }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#9 b64 false without crit', signRaw(key, header(key, { b64: false }), claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#10 duplicate alg in the header', signRaw(key, `{"alg":"none","alg":"ES256","kid":"${key.kid}","typ":"webhook+jwt"}`, claims), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#10 duplicate exp in the claims', signRaw(key, header(key), claims.replace('{', `{"exp":${Math.floor(Date.now() / 1000) - 600},`)), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#10 duplicate member after an escape', signRaw(key, header(key), claims.replace('{', '{"jti":"a","j\\u0074i":"b",')), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#11 exp 1e999', signRaw(key, header(key), claims.replace(/"exp":\d+/, '"exp":1e999')), 'WEBHOOK_CLAIMS_INVALID'],
    ['#12 exp in year 2286', tokenFor(key, { claims: { exp: 9999999999 } }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG'],
    ['#12 exp 9999999999999', tokenFor(key, { claims: { exp: 9999999999999 } }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG'],
    ['#13 exp missing', tokenFor(key, { claims: { exp: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#13 iat missing', tokenFor(key, { claims: { iat: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#13 iat in the future', tokenFor(key, { claims: { iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 3700 } }), 'WEBHOOK_TOKEN_NOT_YET_VALID'],
    ['#13 nbf in the future', tokenFor(key, { claims: { nbf: Math.floor(Date.now() / 1000) + 120 } }), 'WEBHOOK_TOKEN_NOT_YET_VALID'],
    ['#13 nbf not a number', tokenFor(key, { claims: { nbf: 'soon' } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#13 negative exp', tokenFor(key, { claims: { exp: -1 } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#13 exp as a string', tokenFor(key, { claims: { exp: String(Math.floor(Date.now() / 1000) + 60) } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#13 exp null', tokenFor(key, { claims: { exp: null } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#14 whitespace inside the signature', `${valid.slice(0, -10)} ${valid.slice(-10)}`, 'WEBHOOK_TOKEN_MALFORMED'],
    ['#15 non-canonical payload, correctly signed', signSegments(key, validHeader, nonCanonical(validPayload)), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#15 non-canonical header, correctly signed', signSegments(key, nonCanonical(headerWithSpareBits), validPayload), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#15 non-canonical signature', withSignature(valid, nonCanonical(valid.split('.')[2] as string)), 'WEBHOOK_TOKEN_MALFORMED'],
    ...['?', '#', '!', '\\'].map((character): [string, string, ReceiverErrorCode] => [`#16 ${character} in the payload`, `${validHeader}.${validPayload}${character}.${valid.split('.')[2] as string}`, 'WEBHOOK_TOKEN_MALFORMED']),
    ['#17 = padding', `${valid}=`, 'WEBHOOK_TOKEN_MALFORMED'],
    ['#17 standard alphabet', valid.replaceAll('-', '+').replaceAll('_', '/') === valid ? `${valid.slice(0, -1)}+` : valid.replaceAll('-', '+').replaceAll('_', '/'), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#17 four segments', `${valid}.AAAA`, 'WEBHOOK_TOKEN_MALFORMED'],
    ['#17 five segments (JWE)', `${validHeader}.AAAA.AAAA.AAAA.AAAA`, 'WEBHOOK_TOKEN_MALFORMED'],
    ['#18 psychic signature, r = s = 0', withSignature(valid, Buffer.alloc(64)), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#18 r = s = n', withSignature(valid, Buffer.concat([Buffer.from(P256_ORDER.toString(16), 'hex'), Buffer.from(P256_ORDER.toString(16), 'hex')])), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#19 DER instead of P1363', withSignature(valid, derSignature(Buffer.from(valid.split('.')[2] as string, 'base64url'))), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#19 63-byte signature', withSignature(valid, Buffer.from(valid.split('.')[2] as string, 'base64url').subarray(1)), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#19 65-byte signature', withSignature(valid, Buffer.concat([Buffer.from([0]), Buffer.from(valid.split('.')[2] as string, 'base64url')])), 'WEBHOOK_SIGNATURE_INVALID'],
    ['modified payload', signSegments(key, validHeader, base64url(claims)).split('.').slice(0, 2).join('.') + '.' + (valid.split('.')[2] as string), 'WEBHOOK_SIGNATURE_INVALID'],
    ['#25 payload []', signRaw(key, header(key), '[]'), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload null', signRaw(key, header(key), 'null'), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload "str"', signRaw(key, header(key), '"str"'), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload 123', signRaw(key, header(key), '123'), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload not UTF-8', signSegments(key, validHeader, Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload with a BOM', signSegments(key, validHeader, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(claims)]).toString('base64url')), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 payload a nested JWT', signRaw(key, header(key, { cty: 'JWT' }), JSON.stringify(valid)), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#25 header not JSON', signSegments(key, base64url('{alg:ES256}'), validPayload), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#26 oversize token', tokenFor(key, { claims: { padding: 'x'.repeat(9000) } }), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#26 deeply nested JSON', signRaw(key, header(key), claims.replace('{', `{"deep":${'['.repeat(40)}${']'.repeat(40)},`)), 'WEBHOOK_TOKEN_MALFORMED'],
    ['#27 expired', tokenFor(key, { claims: { iat: Math.floor(Date.now() / 1000) - 400, exp: Math.floor(Date.now() / 1000) - 100 } }), 'WEBHOOK_TOKEN_EXPIRED'],
    ['#27 wrong aud', tokenFor(key, { claims: { aud: 'https://elsewhere.test/hooks' } }), 'WEBHOOK_AUDIENCE_INVALID'],
    ['#27 aud as an object', tokenFor(key, { claims: { aud: { url: AUDIENCE } } }), 'WEBHOOK_AUDIENCE_INVALID'],
    ['#27 aud as an array', tokenFor(key, { claims: { aud: [AUDIENCE] } }), 'WEBHOOK_AUDIENCE_INVALID'],
    ['#27 iss in another case', tokenFor(key, { claims: { iss: ISSUER.toUpperCase() } }), 'WEBHOOK_ISSUER_INVALID'],
    ['#27 iss missing', tokenFor(key, { claims: { iss: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['#27 typ JWT', tokenFor(key, { header: { typ: 'JWT' } }), 'WEBHOOK_TOKEN_TYPE_INVALID'],
    ['#27 typ in another case', tokenFor(key, { header: { typ: 'WEBHOOK+JWT' } }), 'WEBHOOK_TOKEN_TYPE_INVALID'],
    ['#27 typ of another media type', tokenFor(key, { header: { typ: 'application/jwt' } }), 'WEBHOOK_TOKEN_TYPE_INVALID'],
    ['#27 typ with another prefix', tokenFor(key, { header: { typ: 'text/webhook+jwt' } }), 'WEBHOOK_TOKEN_TYPE_INVALID'],
    ['#27 typ missing', tokenFor(key, { header: { typ: undefined } }), 'WEBHOOK_TOKEN_TYPE_INVALID'],
    ['lifetime longer than maxTokenAge', tokenFor(key, { claims: { exp: Math.floor(Date.now() / 1000) + 301 } }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG'],
    ['exp before iat', tokenFor(key, { claims: { exp: Math.floor(Date.now() / 1000) - 10 } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['jti missing', tokenFor(key, { claims: { jti: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['jti empty', tokenFor(key, { claims: { jti: '' } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['webhook_id missing', tokenFor(key, { claims: { webhook_id: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['body_sha256 missing', tokenFor(key, { claims: { body_sha256: undefined } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['body_sha256 in hex', tokenFor(key, { claims: { body_sha256: 'b'.repeat(64) } }), 'WEBHOOK_CLAIMS_INVALID'],
    ['body of another request', tokenFor(key, { body: '{"type":"other"}' }), 'WEBHOOK_BODY_DIGEST_MISMATCH'],
    ['no token', undefined, 'WEBHOOK_TOKEN_MISSING'],
    ['Basic credentials', 'ignored', 'WEBHOOK_TOKEN_MALFORMED', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['Bearer without a token', 'ignored', 'WEBHOOK_TOKEN_MALFORMED', { authorization: 'Bearer' }],
    ['empty Authorization', 'ignored', 'WEBHOOK_TOKEN_MISSING', { authorization: '' }]
  ]
  for (const [name, token, code, headers] of cases) {
    const response = await deliver(app, token, BODY, headers)
    const entry = RECEIVER_ERRORS[code]
    t.equal(response.statusCode, entry.status, `${name}: ${response.body}`)
    t.same(response.json(), receiverProblem(code), `${name}: ${code}`)
    t.equal(response.headers['content-type'], 'application/problem+json')
    if (entry.status === 401) t.equal(response.headers['www-authenticate'], `Bearer error="invalid_token", error_description="${entry.title}"`)
  }
  t.same(handled, [], 'no refused request reached the handler')
  t.equal(attackerServer.fetches, 0, 'no key was ever fetched from a URL in a token')
})

t.test('#20 a high-S twin of a delivered token is a replay, not a new delivery', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url)
  const token = tokenFor(key)
  const signature = Buffer.from(token.split('.')[2] as string, 'base64url')
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`)
  const twin = withSignature(token, Buffer.concat([signature.subarray(0, 32), Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex')]))
  t.equal((await deliver(app, token)).statusCode, 200)
  const replay = await deliver(app, twin)
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'WEBHOOK_REPLAYED')
})

t.test('an unknown kid inside the cooldown is 503 with Retry-After, never 401', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url, { jwks: { cooldown: 30 } })
  const response = await deliver(app, tokenFor(key, { header: { kid: 'not-published-yet' } }))
  t.equal(response.statusCode, 503)
  t.same(response.json(), receiverProblem('WEBHOOK_KEY_UNAVAILABLE'))
  t.ok(Number(response.headers['retry-after']) >= 29 && Number(response.headers['retry-after']) <= 30, `Retry-After ${String(response.headers['retry-after'])}`)
  t.equal(response.headers['www-authenticate'], undefined)
})
