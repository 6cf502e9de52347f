import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { OMIT, b64url, type CaseBuilder } from './case-builder.ts'

// The cases about the token itself: its format and encodings, the header (typ, crit, alg, kid), the key it
// names and its signature. Each breaks one rule; the expected code is that rule's.

export type Define = (id: string, description: string, write: (c: CaseBuilder) => void) => void

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
/** The order of P-256, and of the Ed25519 group (RFC 8032 §5.1). */
const P256_ORDER = p256.Point.Fn.ORDER
const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n

/**
 * The same bytes, encoded with non-zero trailing bits: decodes like the original, but is not canonical. The
 * segment must end in a partial group (its length not a multiple of 4), or it has no trailing bits to set.
 */
function withTrailingBits (segment: string): string {
  return segment.slice(0, -1) + ALPHABET[ALPHABET.indexOf(segment.at(-1) as string) | 1]
}

/** `json` with spaces before its closing brace, as many as it takes for its base64url to end in a partial group. */
function withPartialGroup (json: string): string {
  let spaced = json
  while (Buffer.byteLength(spaced) % 3 === 0) spaced = `${spaced.slice(0, -1)} }`
  return spaced
}

function toStandardAlphabet (segment: string): string {
  return segment.replaceAll('-', '+').replaceAll('_', '/')
}

const bigIntOf = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
const bytesOf = (value: bigint, length: number): Buffer => Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex')

/** An R‖S ECDSA signature re-encoded as DER (the X.509 form), which JWS does not use (RFC 7518 §3.4). */
function toDer (signature: Buffer): Buffer {
  // A DER INTEGER: no leading zero bytes, then one zero byte back if the high bit is set (it would read as negative).
  const integer = (bytes: Buffer): Buffer => {
    const stripped = bytes.subarray(bytes.findIndex((byte) => byte !== 0))
    const value = Buffer.concat([Buffer.alloc((stripped[0] as number) >> 7), stripped])
    return Buffer.concat([Buffer.from([0x02, value.length]), value])
  }
  const body = Buffer.concat([integer(signature.subarray(0, 32)), integer(signature.subarray(32))])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

const HEADER_SEGMENT = 0
const CLAIMS_SEGMENT = 1
const SIGNATURE_SEGMENT = 2

/** Replaces one segment of a compact token. */
function replaceSegment (token: string, index: number, segment: string): string {
  const segments = token.split('.')
  segments[index] = segment
  return segments.join('.')
}

/** The same ES256 token with its signature's s replaced by n − s: another valid signature of the same bytes. */
export function malleateEcdsa (token: string): string {
  const signature = Buffer.from(token.split('.')[SIGNATURE_SEGMENT] as string, 'base64url')
  const s = bigIntOf(signature.subarray(32))
  return replaceSegment(token, SIGNATURE_SEGMENT, b64url(Buffer.concat([signature.subarray(0, 32), bytesOf(P256_ORDER - s, 32)])))
}

export function tokenCases (define: Define): void {
  // --- Accepted: one per algorithm, and what a receiver must tolerate ----------------------------------------
  for (const [name, alg] of [['es256', 'ES256'], ['es384', 'ES384'], ['eddsa', 'EdDSA'], ['rs256', 'RS256'], ['ps256', 'PS256']] as const) {
    define(`accepted/${name}`, `A valid ${alg} token from the sender's key set is accepted, with every claim.`, (c) => {
      c.send(c.token({ key: name }), 'accepted')
    })
  }
  define('accepted/header-whitespace-and-order', 'The header is JSON: insignificant whitespace and member order are the sender\'s business.', (c) => {
    const key = c.key('es256')
    c.send(c.token({ headerBytes: `{ "typ" : "webhook+jwt", "kid" : "${key.kid}",\n "alg" : "ES256" }` }), 'accepted')
  })
  define('accepted/unknown-header-member', 'A header member the protocol does not use is ignored.', (c) => {
    c.send(c.token({ header: { 'x-trace': 'abc' } }), 'accepted')
  })
  define('accepted/key-url-headers-ignored', 'jku and x5u never tell a receiver where keys are: ignored, the configured key set is used.', (c) => {
    c.send(c.token({ header: { jku: 'https://attacker.example/jwks.json', x5u: 'https://attacker.example/cert.pem' } }), 'accepted')
  })
  define('accepted/embedded-jwk-ignored', 'An embedded jwk is ignored: the key comes from the key set, by kid.', (c) => {
    c.send(c.token({ header: { jwk: c.key('es256-unpublished').publicJwk } }), 'accepted')
  })
  define('accepted/extra-claims', 'Claims the protocol does not name are kept and returned with the verified claims.', (c) => {
    c.send(c.token({ claims: { tenant: 'acme', attempt: 3, tags: ['a', 'b'], meta: { region: 'eu' } } }), 'accepted')
  })
  define('accepted/escaped-unicode-in-claims', 'JSON escapes in claims decode to the characters they name.', (c) => {
    const claims = JSON.stringify(c.claims({ webhook_id: 'wh_zoë' })).replace('zoë', 'zo\\u00eb')
    c.send(c.token({ claimsBytes: claims }), 'accepted')
  })
  define('accepted/typ-with-application-prefix', 'typ "application/webhook+jwt" is the same value as "webhook+jwt" (RFC 7515 §4.1.9).', (c) => {
    c.send(c.token({ header: { typ: 'application/webhook+jwt' } }), 'accepted')
  })
  define('accepted/ecdsa-high-s', 'An ECDSA signature with s above n/2 is valid ECDSA: JWS does not require low s (the replay check works on jti, not on the signature).', (c) => {
    c.send(malleateEcdsa(c.token()), 'accepted')
  })

  // --- The token header -------------------------------------------------------------------------------------
  define('header/lowercase-bearer', 'The auth scheme is case-insensitive (RFC 9110 §11.1): "bearer" works.', (c) => {
    const token = c.token()
    c.send(token, 'accepted', { headerValue: `bearer ${token}` })
  })
  define('header/bearer-several-spaces', 'One or more spaces separate the scheme and the token.', (c) => {
    const token = c.token()
    c.send(token, 'accepted', { headerValue: `Bearer   ${token}` })
  })
  define('header/custom-header-bare-token', 'A receiver configured with another header takes the bare token from it.', (c) => {
    c.receiver.header = 'webhook-token'
    c.send(c.token(), 'accepted')
  })
  define('header/missing', 'No token header at all.', (c) => {
    c.send(null, 'WEBHOOK_TOKEN_MISSING')
  })
  define('header/empty', 'An empty Authorization header carries no token.', (c) => {
    c.send(null, 'WEBHOOK_TOKEN_MISSING', { headerValue: '' })
  })
  define('header/token-in-authorization-when-another-header-is-configured', 'A receiver configured with its own header does not look in Authorization.', (c) => {
    c.receiver.header = 'webhook-token'
    const token = c.token()
    c.send(null, 'WEBHOOK_TOKEN_MISSING', { headers: { authorization: `Bearer ${token}` } })
  })
  define('header/basic-scheme', 'Authorization with another scheme carries no bearer token.', (c) => {
    c.send(null, 'WEBHOOK_TOKEN_MALFORMED', { headerValue: `Basic ${b64url('sender:secret')}` })
  })
  define('header/bearer-without-token', '"Bearer" and nothing after it.', (c) => {
    c.send(null, 'WEBHOOK_TOKEN_MALFORMED', { headerValue: 'Bearer' })
  })
  define('header/token-without-scheme', 'The bare token in Authorization, without "Bearer ".', (c) => {
    const token = c.token()
    c.send(null, 'WEBHOOK_TOKEN_MALFORMED', { headerValue: token })
  })
  define('header/bearer-in-custom-header', 'In any header but Authorization the value is the bare token: "Bearer <token>" there is not a compact JWS.', (c) => {
    c.receiver.header = 'webhook-token'
    const token = c.token()
    c.send(token, 'WEBHOOK_TOKEN_MALFORMED', { headerValue: `Bearer ${token}`, token: `Bearer ${token}` })
  })
  define('header/space-inside-token', 'A space inside the token: not one bearer token.', (c) => {
    const token = c.token()
    const [first, rest] = [token.slice(0, 20), token.slice(20)]
    c.send(null, 'WEBHOOK_TOKEN_MALFORMED', { headerValue: `Bearer ${first} ${rest}` })
  })

  // --- Format: strict compact serialisation ----------------------------------------------------------------
  define('format/two-segments', 'Header and claims without a signature segment.', (c) => {
    c.send(c.token().split('.').slice(0, 2).join('.'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/four-segments', 'A fourth segment after the signature.', (c) => {
    const token = c.token()
    c.send(`${token}.${token.split('.')[SIGNATURE_SEGMENT] as string}`, 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/jwe-shape', 'Five segments, as a JWE: not a JWS.', (c) => {
    const header = b64url(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: c.key('rs256').kid, typ: 'webhook+jwt' }))
    c.send([header, b64url('encrypted-key'), b64url('initialisation'), b64url('ciphertext'), b64url('tag')].join('.'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/empty-signature', 'An empty signature segment.', (c) => {
    c.send(`${c.token().split('.').slice(0, 2).join('.')}.`, 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/alg-none-unsigned', 'The classic unsecured JWS: alg "none" and an empty signature. Refused by format before its alg is even read.', (c) => {
    const token = c.token({ header: { alg: 'none' } })
    c.send(`${token.split('.').slice(0, 2).join('.')}.`, 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/empty-header-segment', 'An empty header segment.', (c) => {
    c.send(replaceSegment(c.token(), HEADER_SEGMENT, ''), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/padding-in-header', 'base64url padding ("=") in the header segment (signed as sent).', (c) => {
    const header = b64url(withPartialGroup(JSON.stringify(c.header())))
    c.send(c.signSegments(`${header}${'='.repeat(4 - (header.length % 4))}`, b64url(JSON.stringify(c.claims())), 'es256', 'ES256'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/padding-in-signature', 'base64url padding ("==") after the signature.', (c) => {
    c.send(`${c.token()}==`, 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/standard-alphabet-in-claims', 'The claims segment in the standard base64 alphabet ("+", "/") instead of base64url (signed as sent).', (c) => {
    let claims = b64url(JSON.stringify(c.claims()))
    for (let note = '?'; !/[-_]/.test(claims); note += '?') claims = b64url(JSON.stringify(c.claims({ note })))
    c.send(c.signSegments(b64url(JSON.stringify(c.header())), toStandardAlphabet(claims), 'es256', 'ES256'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/standard-alphabet-in-signature', 'The signature in the standard base64 alphabet ("+", "/").', (c) => {
    let token = c.token()
    while (!/[-_]/.test(token.split('.')[SIGNATURE_SEGMENT] as string)) token = c.token()
    c.send(replaceSegment(token, SIGNATURE_SEGMENT, toStandardAlphabet(token.split('.')[SIGNATURE_SEGMENT] as string)), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/trailing-bits-in-header', 'The header segment with non-zero trailing bits: it decodes to the same bytes, but it is not the one canonical encoding (signed as sent).', (c) => {
    const header = withTrailingBits(b64url(withPartialGroup(JSON.stringify(c.header()))))
    c.send(c.signSegments(header, b64url(JSON.stringify(c.claims())), 'es256', 'ES256'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/trailing-bits-in-claims', 'The claims segment with non-zero trailing bits (signed as sent).', (c) => {
    const claims = withTrailingBits(b64url(withPartialGroup(JSON.stringify(c.claims()))))
    c.send(c.signSegments(b64url(JSON.stringify(c.header())), claims, 'es256', 'ES256'), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/trailing-bits-in-signature', 'The signature segment with non-zero trailing bits: the same signature bytes, a different token.', (c) => {
    const token = c.token()
    c.send(replaceSegment(token, SIGNATURE_SEGMENT, withTrailingBits(token.split('.')[SIGNATURE_SEGMENT] as string)), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/header-not-json', 'A header that is not JSON.', (c) => {
    c.send(c.token({ headerBytes: 'alg=ES256' }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/header-json-array', 'A header that is JSON but not an object.', (c) => {
    c.send(c.token({ headerBytes: JSON.stringify(['ES256', c.key('es256').kid, 'webhook+jwt']) }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/claims-json-string', 'A claims set that is a JSON string.', (c) => {
    c.send(c.token({ claimsBytes: JSON.stringify(JSON.stringify(c.claims())) }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/claims-json-null', 'A claims set that is JSON null.', (c) => {
    c.send(c.token({ claimsBytes: 'null' }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/bom-before-header', 'A byte order mark before the header JSON: JSON text in a JWS has none (RFC 8259 §8.1).', (c) => {
    c.send(c.token({ headerBytes: `\uFEFF${JSON.stringify(c.header())}` }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/bom-before-claims', 'A byte order mark before the claims JSON.', (c) => {
    c.send(c.token({ claimsBytes: `\uFEFF${JSON.stringify(c.claims())}` }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  const invalidUtf8 = (c: CaseBuilder, bytes: number[]): Buffer => {
    const [before, after] = JSON.stringify(c.claims({ webhook_id: 'wh_@' })).split('@') as [string, string]
    return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])
  }
  define('format/claims-invalid-utf8', 'A claims set with a byte that is not UTF-8 (0xFF) inside a string.', (c) => {
    c.send(c.token({ claimsBytes: invalidUtf8(c, [0xff]) }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/claims-overlong-utf8', 'An overlong UTF-8 encoding ("/" as C0 AF) inside a string: not UTF-8.', (c) => {
    c.send(c.token({ claimsBytes: invalidUtf8(c, [0xc0, 0xaf]) }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/claims-encoded-surrogate', 'A UTF-16 surrogate encoded as UTF-8 bytes (ED A0 80, CESU-8): not UTF-8.', (c) => {
    c.send(c.token({ claimsBytes: invalidUtf8(c, [0xed, 0xa0, 0x80]) }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/duplicate-alg-in-header', 'The header names alg twice (the same value): parsers disagree on duplicates, so any is refused.', (c) => {
    const header = JSON.stringify(c.header())
    c.send(c.token({ headerBytes: `${header.slice(0, -1)},"alg":"ES256"}` }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/duplicate-aud-in-claims', 'The claims name aud twice: one parser reads the first, another the last.', (c) => {
    const claims = JSON.stringify(c.claims())
    c.send(c.token({ claimsBytes: `${claims.slice(0, -1)},"aud":"https://other-receiver.example/hooks"}` }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/duplicate-member-by-escape', 'A duplicate that only shows once escapes are decoded: "a\\u0075d" is "aud".', (c) => {
    const claims = JSON.stringify(c.claims())
    c.send(c.token({ claimsBytes: `${claims.slice(0, -1)},"a\\u0075d":"https://other-receiver.example/hooks"}` }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/duplicate-member-nested', 'A duplicate member inside a nested object of the claims.', (c) => {
    const claims = JSON.stringify(c.claims({ meta: { region: '@' } })).replace('"region":"@"', '"region":"eu","region":"us"')
    c.send(c.token({ claimsBytes: claims }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/nan-in-claims', 'NaN is not JSON (some parsers accept it).', (c) => {
    c.send(c.token({ claimsBytes: JSON.stringify(c.claims({ exp: 0 })).replace('"exp":0', '"exp":NaN') }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/infinity-in-claims', 'Infinity is not JSON (some parsers accept it).', (c) => {
    c.send(c.token({ claimsBytes: JSON.stringify(c.claims({ exp: 0 })).replace('"exp":0', '"exp":Infinity') }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/token-at-size-limit', 'A token of exactly maxTokenBytes (8192) characters is accepted.', (c) => {
    c.send(tokenOfLength(c, 8192), 'accepted')
  })
  define('format/token-over-size-limit', 'A token one byte over maxTokenBytes is refused before it is decoded.', (c) => {
    c.send(tokenOfLength(c, 8193), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/crit', 'A crit header: no extension is understood, so any crit is refused (RFC 7515 §4.1.11).', (c) => {
    c.send(c.token({ header: { crit: ['exp'], exp: 1 } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/crit-empty', 'An empty crit list is still a crit header.', (c) => {
    c.send(c.token({ header: { crit: [] } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/b64-false', 'The unencoded-payload option (RFC 7797) changes what is signed: refused.', (c) => {
    c.send(c.token({ header: { b64: false, crit: ['b64'] } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/b64-without-crit', 'b64 means something only with crit; a token carrying it is refused all the same.', (c) => {
    c.send(c.token({ header: { b64: true } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/kid-missing', 'No kid: the receiver cannot pick a key.', (c) => {
    c.send(c.token({ header: { kid: OMIT } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/kid-not-a-string', 'A kid that is a number.', (c) => {
    c.send(c.token({ header: { kid: 7 } }), 'WEBHOOK_TOKEN_MALFORMED')
  })
  define('format/kid-empty', 'An empty kid.', (c) => {
    c.send(c.token({ header: { kid: '' } }), 'WEBHOOK_TOKEN_MALFORMED')
  })

  // --- typ ----------------------------------------------------------------------------------------------------
  for (const [id, typ, what] of [
    ['jwt', 'JWT', 'the generic JWT type: an access or ID token must never pass for a webhook'],
    ['access-token', 'at+jwt', 'an access token (RFC 9068)'],
    ['upper-case', 'WEBHOOK+JWT', 'the right name in other letters: the protocol compares it exactly'],
    ['application-upper-case', 'Application/webhook+jwt', 'the long form with other letters'],
    ['trailing-space', 'webhook+jwt ', 'a trailing space'],
    ['application-jwt', 'application/jwt', 'the generic long form'],
    ['array', ['webhook+jwt'], 'a list, not a string']
  ] as const) {
    define(`type/${id}`, `typ is ${what}.`, (c) => {
      c.send(c.token({ header: { typ } }), 'WEBHOOK_TOKEN_TYPE_INVALID')
    })
  }
  define('type/missing', 'No typ: explicit typing is required (RFC 8725 §3.11).', (c) => {
    c.send(c.token({ header: { typ: OMIT } }), 'WEBHOOK_TOKEN_TYPE_INVALID')
  })

  // --- alg ----------------------------------------------------------------------------------------------------
  define('algorithm/none-with-signature', 'alg "none" with a signature segment: never allowed.', (c) => {
    c.send(replaceSegment(c.token({ header: { alg: 'none' } }), SIGNATURE_SEGMENT, b64url('none')), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/none-capitalised', 'alg "None": JWS algorithm names are case-sensitive, and none is never allowed.', (c) => {
    c.send(replaceSegment(c.token({ header: { alg: 'None' } }), SIGNATURE_SEGMENT, b64url('none')), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  const spkiPem = (c: CaseBuilder, name: string): Buffer => Buffer.from(createPublicKey({ key: c.key(name).publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }))
  define('algorithm/hs256-with-ec-public-key', 'HS256 with the sender\'s EC public key (its PEM) as the HMAC secret: the key-confusion attack.', (c) => {
    c.send(c.token({ header: { alg: 'HS256' }, signAlg: 'HS256', secret: spkiPem(c, 'es256') }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/hs256-with-rsa-public-key', 'HS256 with the sender\'s RSA public key (its PEM) as the HMAC secret.', (c) => {
    c.send(c.token({ key: 'rs256', header: { alg: 'HS256' }, signAlg: 'HS256', secret: spkiPem(c, 'rs256') }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/hs256-with-jwk-as-secret', 'HS256 with the published JWK\'s JSON as the HMAC secret.', (c) => {
    c.send(c.token({ header: { alg: 'HS256' }, signAlg: 'HS256', secret: Buffer.from(JSON.stringify(c.key('es256').publicJwk)) }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/missing', 'No alg.', (c) => {
    c.send(c.token({ header: { alg: OMIT }, signAlg: 'ES256' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/lower-case', 'alg "es256": algorithm names are case-sensitive.', (c) => {
    c.send(c.token({ header: { alg: 'es256' }, signAlg: 'ES256' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/not-a-string', 'alg as a list.', (c) => {
    c.send(c.token({ header: { alg: ['ES256'] }, signAlg: 'ES256' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/es512', 'ES512 is a JOSE algorithm, not one of the protocol\'s.', (c) => {
    c.keySet = 'with-other-key-types'
    c.send(c.token({ key: 'es512-other-type', signer: 'es256', signAlg: 'ES256' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/ed25519-fully-specified', 'alg "Ed25519" (the fully-specified name of RFC 9864) is not the protocol\'s "EdDSA".', (c) => {
    c.send(c.token({ key: 'eddsa', header: { alg: 'Ed25519' }, signAlg: 'EdDSA' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/outside-allowlist', 'A valid EdDSA token to a receiver that allows only ES256.', (c) => {
    c.receiver.algorithms = ['ES256']
    c.send(c.token({ key: 'eddsa' }), 'WEBHOOK_ALGORITHM_NOT_ALLOWED')
  })
  define('algorithm/inside-allowlist', 'A valid ES256 token to a receiver that allows only ES256.', (c) => {
    c.receiver.algorithms = ['ES256']
    c.send(c.token(), 'accepted')
  })

  // --- The key: looked up by kid in the configured key set only ------------------------------------------------
  define('key/unpublished', 'A valid signature by a key the sender never published: its kid is not in the set, even after a refetch.', (c) => {
    c.send(c.token({ key: 'es256-unpublished' }), 'WEBHOOK_KEY_UNKNOWN')
  })
  define('key/embedded-jwk-attack', 'The attacker signs with its own key and embeds it (jwk, with its kid): the key set decides, and it lacks that kid.', (c) => {
    c.send(c.token({ key: 'es256-unpublished', header: { jwk: c.key('es256-unpublished').publicJwk } }), 'WEBHOOK_KEY_UNKNOWN')
  })
  define('key/jku-attack', 'The attacker points jku at its own key set: never fetched.', (c) => {
    c.send(c.token({ key: 'es256-unpublished', header: { jku: 'https://attacker.example/jwks.json' } }), 'WEBHOOK_KEY_UNKNOWN')
  })
  define('key/kid-not-a-thumbprint', 'A kid that names no key (not a thumbprint at all).', (c) => {
    c.send(c.token({ header: { kid: 'signing-key-2026-01' } }), 'WEBHOOK_KEY_UNKNOWN')
  })
  for (const [id, keySet, expect, description] of [
    ['empty-key-set', 'empty', 'WEBHOOK_KEY_UNKNOWN', 'The sender\'s key set is empty.'],
    ['published-for-encryption', 'key-for-encryption', 'WEBHOOK_KEY_UNKNOWN', 'The kid names a key published with use "enc": not a verification key.'],
    ['key-ops-without-verify', 'key-ops-without-verify', 'WEBHOOK_KEY_UNKNOWN', 'The kid names a key whose key_ops do not include "verify".'],
    ['other-key-type-skipped', 'with-other-key-types', 'accepted', 'A P-521 key in the set is of no protocol algorithm: it is skipped, the others still verify.']
  ] as const) {
    define(`key/${id}`, description, (c) => {
      c.keySet = keySet
      c.send(c.token(), expect)
    })
  }
  define('key/kid-of-other-key-type', 'The kid of the P-521 key, which the receiver skipped: unknown.', (c) => {
    c.keySet = 'with-other-key-types'
    c.send(c.token({ header: { kid: c.key('es512-other-type').kid } }), 'WEBHOOK_KEY_UNKNOWN')
  })
  define('key/rsa-key-without-alg-rs256', 'An RSA key published without alg verifies RS256.', (c) => {
    c.keySet = 'rsa-without-alg'
    c.send(c.token({ key: 'rs256' }), 'accepted')
  })
  define('key/rsa-key-without-alg-ps256', 'An RSA key published without alg verifies PS256 too.', (c) => {
    c.keySet = 'rsa-without-alg'
    c.send(c.token({ key: 'rs256', header: { alg: 'PS256' } }), 'accepted')
  })

  // --- The signature -------------------------------------------------------------------------------------------
  define('signature/kid-of-another-key', 'Signed by one published P-256 key, naming the kid of another.', (c) => {
    c.send(c.token({ header: { kid: c.key('es256-second').kid } }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/kid-of-eddsa-key', 'alg ES256 with the kid of the Ed25519 key: the key is not for that algorithm.', (c) => {
    c.send(c.token({ header: { kid: c.key('eddsa').kid } }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/es384-with-p256-key', 'alg ES384, a valid ECDSA-with-SHA-384 signature by the P-256 key: ES384 means P-384, and the key is for ES256 only.', (c) => {
    c.send(c.token({ header: { alg: 'ES384' } }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/rs256-with-ps256-key', 'A valid RS256 signature by the RSA key published with alg PS256: the published alg pins it.', (c) => {
    c.send(c.token({ key: 'ps256', header: { alg: 'RS256' } }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/ps256-with-rs256-key', 'A valid PS256 signature by the RSA key published with alg RS256.', (c) => {
    c.send(c.token({ key: 'rs256', header: { alg: 'PS256' } }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/signed-by-unpublished-key', 'The real kid, signed by another P-256 key.', (c) => {
    c.send(c.token({ signer: 'es256-unpublished' }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/rs256-signed-by-other-rsa-key', 'The RS256 kid, signed by the other RSA key.', (c) => {
    c.send(c.token({ key: 'rs256', signer: 'ps256' }), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/claims-changed-after-signing', 'The claims segment of one token with the signature of another.', (c) => {
    const signed = c.token()
    c.send(replaceSegment(signed, CLAIMS_SEGMENT, b64url(JSON.stringify(c.claims({ webhook_id: 'wh_changed' })))), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/ecdsa-der-encoded', 'An ES256 signature in DER, as X.509 uses: JWS takes R‖S (RFC 7518 §3.4).', (c) => {
    const token = c.token()
    c.send(replaceSegment(token, SIGNATURE_SEGMENT, b64url(toDer(Buffer.from(token.split('.')[SIGNATURE_SEGMENT] as string, 'base64url')))), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/ecdsa-zero', 'r = s = 0, the "psychic signature" (CVE-2022-21449).', (c) => {
    c.send(replaceSegment(c.token(), SIGNATURE_SEGMENT, b64url(Buffer.alloc(64))), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/ecdsa-truncated', 'An ES256 signature two bytes short.', (c) => {
    const token = c.token()
    c.send(replaceSegment(token, SIGNATURE_SEGMENT, b64url(Buffer.from(token.split('.')[SIGNATURE_SEGMENT] as string, 'base64url').subarray(0, 62))), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/ed25519-s-not-reduced', 'An Ed25519 signature with S + L in place of S: the same equation holds, but S must be below L (RFC 8032 §5.1.7).', (c) => {
    const token = c.token({ key: 'eddsa' })
    const signature = Buffer.from(token.split('.')[SIGNATURE_SEGMENT] as string, 'base64url')
    const s = bigIntOf(Buffer.from(signature.subarray(32)).reverse())
    const unreduced = Buffer.concat([signature.subarray(0, 32), bytesOf(s + ED25519_ORDER, 32).reverse()])
    c.send(replaceSegment(token, SIGNATURE_SEGMENT, b64url(unreduced)), 'WEBHOOK_SIGNATURE_INVALID')
  })
  define('signature/rsa-signature-of-other-token', 'An RS256 token with the signature of another RS256 token.', (c) => {
    const other = c.token({ key: 'rs256' })
    c.send(replaceSegment(c.token({ key: 'rs256' }), SIGNATURE_SEGMENT, other.split('.')[SIGNATURE_SEGMENT] as string), 'WEBHOOK_SIGNATURE_INVALID')
  })
}

/** A valid ES256 token of exactly `length` characters, padded with a claim and header whitespace. */
function tokenOfLength (c: CaseBuilder, length: number): string {
  const claims = c.claims()
  const header = (spaces: number): string => JSON.stringify(c.header()).slice(0, -1) + ' '.repeat(spaces) + '}'
  const claimsText = (padding: number): string => JSON.stringify({ ...claims, padding: 'x'.repeat(padding) })
  // An ES256 signature is 64 bytes: 86 characters, and two dots.
  const size = (padding: number, spaces: number): number => b64url(header(spaces)).length + b64url(claimsText(padding)).length + 88
  // Each byte of padding adds one or two characters, and each header space one or two more: some pair fits.
  let padding = 0
  let spaces = 0
  while (size(padding, spaces) !== length) {
    spaces = (spaces + 1) % 3
    if (spaces === 0) padding++
  }
  return c.token({ headerBytes: header(spaces), claimsBytes: claimsText(padding) })
}
