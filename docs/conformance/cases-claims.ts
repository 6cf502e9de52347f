import { bodyDigest } from '@webhook-jwt/protocol'
import { AUDIENCE, BODY, ISSUER, NOW, OMIT } from './case-builder.ts'
import { malleateEcdsa, type Define } from './cases-token.ts'

// The cases about the claims (iss, aud, the times, the ids, the body digest), the body itself, and the
// receiver's state and environment: replays, an unreachable key set, a failing replay store, deduplication
// and load shedding. NOW is the frozen clock; the receiver tolerates 30 s and accepts lifetimes up to 300 s.

const TOLERANCE = 30
const OTHER_AUDIENCE = 'https://other-receiver.example/hooks'

export function claimsCases (define: Define): void {
  // --- iss and aud ---------------------------------------------------------------------------------------------
  for (const [id, iss, what] of [
    ['other-sender', 'https://other-sender.example', 'another sender'],
    ['trailing-slash', `${ISSUER}/`, 'the issuer with a trailing slash: compared exactly'],
    ['other-case', 'https://Sender.example', 'the issuer in other letters: compared exactly'],
    ['http', 'http://sender.example', 'the issuer with another scheme']
  ] as const) {
    define(`issuer/${id}`, `iss is ${what}.`, (c) => {
      c.send(c.token({ claims: { iss } }), 'WEBHOOK_ISSUER_INVALID')
    })
  }
  for (const [id, aud, what] of [
    ['other-receiver', OTHER_AUDIENCE, 'another receiver'],
    ['trailing-slash', `${AUDIENCE}/`, 'this receiver with a trailing slash'],
    ['other-case', AUDIENCE.toUpperCase(), 'this receiver in other letters'],
    ['array', [AUDIENCE], 'a list: the protocol\'s aud is a string'],
    ['missing', OMIT, 'missing']
  ] as const) {
    define(`audience/${id}`, `aud is ${what}.`, (c) => {
      c.send(c.token({ claims: { aud } }), 'WEBHOOK_AUDIENCE_INVALID')
    })
  }
  define('audience/one-of-several', 'A receiver configured with two audiences accepts either.', (c) => {
    c.receiver.audience = [OTHER_AUDIENCE, AUDIENCE]
    c.send(c.token(), 'accepted')
  })

  // --- Claims that are missing or malformed ----------------------------------------------------------------------
  const HUGE = `1${'0'.repeat(400)}`
  for (const [id, claims, what] of [
    ['iss-missing', { iss: OMIT }, 'No iss'],
    ['iss-not-a-string', { iss: 42 }, 'Iss is a number'],
    ['exp-missing', { exp: OMIT }, 'No exp'],
    ['iat-missing', { iat: OMIT }, 'No iat'],
    ['exp-string', { exp: String(NOW + 290) }, 'Exp is a string of digits'],
    ['iat-string', { iat: String(NOW - 10) }, 'Iat is a string of digits'],
    ['exp-boolean', { exp: true }, 'Exp is true'],
    ['nbf-string', { nbf: String(NOW - 10) }, 'Nbf is a string'],
    ['nbf-null', { nbf: null }, 'Nbf is null: present, and not a time'],
    ['exp-before-iat', { iat: NOW - 10, exp: NOW - 20 }, 'Exp comes before iat'],
    ['jti-missing', { jti: OMIT }, 'No jti'],
    ['jti-empty', { jti: '' }, 'Jti is empty'],
    ['jti-not-a-string', { jti: 12345 }, 'Jti is a number'],
    ['webhook-id-missing', { webhook_id: OMIT }, 'No webhook_id'],
    ['webhook-id-not-a-string', { webhook_id: 7 }, 'Webhook_id is a number'],
    ['body-sha256-missing', { body_sha256: OMIT }, 'No body_sha256'],
    ['body-sha256-padded', { body_sha256: `${bodyDigest(BODY)}=` }, 'Body_sha256 carries base64 padding'],
    ['body-sha256-hex', { body_sha256: Buffer.from(bodyDigest(BODY), 'base64url').toString('hex') }, 'Body_sha256 is the right digest in hex'],
    ['body-sha256-number', { body_sha256: 1 }, 'Body_sha256 is a number'],
    ['body-sha256-short', { body_sha256: bodyDigest(BODY).slice(0, 42) }, 'Body_sha256 is one character short']
  ] as const) {
    define(`claims/${id}`, `${what}.`, (c) => {
      c.send(c.token({ claims }), 'WEBHOOK_CLAIMS_INVALID')
    })
  }
  define('claims/exp-infinite', 'exp is 1e400, a JSON number no double holds: not a finite time.', (c) => {
    c.send(c.token({ claimsBytes: JSON.stringify(c.claims({ exp: 0 })).replace('"exp":0', '"exp":1e400') }), 'WEBHOOK_CLAIMS_INVALID')
  })
  define('claims/exp-huge-integer', 'exp is a 401-digit integer: not a finite time once read as a number.', (c) => {
    c.send(c.token({ claimsBytes: JSON.stringify(c.claims({ exp: 0 })).replace('"exp":0', `"exp":${HUGE}`) }), 'WEBHOOK_CLAIMS_INVALID')
  })
  // A body whose digest has "_" in base64url ("pjJaHwx_adnu…"), so that its standard base64 differs.
  const UNDERSCORED = Buffer.from('{"type":"invoice.paid","invoice":"in_1042","amount":4200}')
  define('claims/body-sha256-standard-alphabet', 'body_sha256 is the right digest in standard base64 ("/" for "_"), unpadded.', (c) => {
    const standard = Buffer.from(bodyDigest(UNDERSCORED), 'base64url').toString('base64').replace(/=+$/, '')
    c.send(c.token({ body: UNDERSCORED, claims: { body_sha256: standard } }), 'WEBHOOK_CLAIMS_INVALID', { body: UNDERSCORED })
  })

  // --- Times: exp, iat, nbf, the tolerance and the lifetime cap --------------------------------------------------
  const lifetime = (iat: number, seconds = 300): Record<string, number> => ({ iat, exp: iat + seconds })
  define('times/expired-at-tolerance', `exp is exactly tolerance (${TOLERANCE} s) before now: expired (exp must be after now − tolerance).`, (c) => {
    c.send(c.token({ claims: lifetime(NOW - TOLERANCE - 300) }), 'WEBHOOK_TOKEN_EXPIRED')
  })
  define('times/within-tolerance-after-exp', 'exp is tolerance − 1 s before now: still accepted.', (c) => {
    c.send(c.token({ claims: lifetime(NOW - TOLERANCE + 1 - 300) }), 'accepted')
  })
  define('times/expired-long-ago', 'exp was a day ago.', (c) => {
    c.send(c.token({ claims: lifetime(NOW - 86400) }), 'WEBHOOK_TOKEN_EXPIRED')
  })
  define('times/expired-now-without-tolerance', 'With no tolerance, exp equal to now is expired.', (c) => {
    c.receiver.clockTolerance = 0
    c.send(c.token({ claims: lifetime(NOW - 300) }), 'WEBHOOK_TOKEN_EXPIRED')
  })
  define('times/valid-one-second-without-tolerance', 'With no tolerance, exp one second after now is accepted.', (c) => {
    c.receiver.clockTolerance = 0
    c.send(c.token({ claims: lifetime(NOW + 1 - 300) }), 'accepted')
  })
  define('times/iat-at-tolerance', 'iat is exactly tolerance ahead of now (the sender\'s clock is fast): accepted.', (c) => {
    c.send(c.token({ claims: lifetime(NOW + TOLERANCE) }), 'accepted')
  })
  define('times/iat-beyond-tolerance', 'iat is tolerance + 1 s ahead of now.', (c) => {
    c.send(c.token({ claims: lifetime(NOW + TOLERANCE + 1) }), 'WEBHOOK_TOKEN_NOT_YET_VALID')
  })
  define('times/iat-ahead-without-tolerance', 'With no tolerance, iat one second ahead of now.', (c) => {
    c.receiver.clockTolerance = 0
    c.send(c.token({ claims: lifetime(NOW + 1) }), 'WEBHOOK_TOKEN_NOT_YET_VALID')
  })
  define('times/nbf-at-tolerance', 'nbf is exactly tolerance ahead of now: accepted.', (c) => {
    c.send(c.token({ claims: { nbf: NOW + TOLERANCE } }), 'accepted')
  })
  define('times/nbf-beyond-tolerance', 'nbf is tolerance + 1 s ahead of now.', (c) => {
    c.send(c.token({ claims: { nbf: NOW + TOLERANCE + 1 } }), 'WEBHOOK_TOKEN_NOT_YET_VALID')
  })
  define('times/lifetime-at-cap', 'exp − iat is exactly maxTokenAge (300 s): accepted.', (c) => {
    c.send(c.token({ claims: lifetime(NOW - 100, 300) }), 'accepted')
  })
  define('times/lifetime-over-cap', 'exp − iat is maxTokenAge + 1 s.', (c) => {
    c.send(c.token({ claims: lifetime(NOW - 100, 301) }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG')
  })
  define('times/lifetime-over-lower-cap', 'A receiver capping lifetimes at 60 s refuses a 61 s token.', (c) => {
    c.receiver.maxTokenAge = 60
    c.send(c.token({ claims: lifetime(NOW - 10, 61) }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG')
  })
  define('times/lifetime-at-lower-cap', 'A receiver capping lifetimes at 60 s accepts a 60 s token.', (c) => {
    c.receiver.maxTokenAge = 60
    c.send(c.token({ claims: lifetime(NOW - 10, 60) }), 'accepted')
  })
  define('times/ten-year-token', 'A token that lives ten years: valid now, but a leaked one would be too.', (c) => {
    c.send(c.token({ claims: lifetime(NOW - 10, 3650 * 86400) }), 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG')
  })

  // --- The body: SHA-256 of the exact bytes ---------------------------------------------------------------------
  const SIGNED_JSON = Buffer.from('{"type":"invoice.paid","amount":4200}')
  for (const [id, sent, what] of [
    ['whitespace', Buffer.from('{"type": "invoice.paid", "amount": 4200}'), 'the same JSON with spaces'],
    ['key-order', Buffer.from('{"amount":4200,"type":"invoice.paid"}'), 'the same JSON in another member order'],
    ['trailing-newline', Buffer.from('{"type":"invoice.paid","amount":4200}\n'), 'the signed bytes and a newline'],
    ['bom-added', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), SIGNED_JSON]), 'the signed bytes after a byte order mark'],
    ['utf16', Buffer.from('{"type":"invoice.paid","amount":4200}', 'utf16le'), 'the same text in UTF-16'],
    ['other-event', Buffer.from('{"type":"invoice.paid","amount":9999}'), 'another event'],
    ['empty', Buffer.alloc(0), 'no body at all']
  ] as const) {
    define(`body/${id}`, `The body sent is ${what}: body_sha256 covers exact bytes, so it does not match.`, (c) => {
      c.send(c.token({ body: SIGNED_JSON }), 'WEBHOOK_BODY_DIGEST_MISMATCH', { body: sent })
    })
  }
  const NFC = Buffer.from('{"customer":"Zo\u00eb"}')
  const NFD = Buffer.from('{"customer":"Zoe\u0301"}')
  define('body/unicode-normalisation', 'The token covers the body in NFC ("ë" as U+00EB); the body arrives in NFD ("e" + U+0301): the same text to a reader, other bytes.', (c) => {
    c.send(c.token({ body: NFC }), 'WEBHOOK_BODY_DIGEST_MISMATCH', { body: NFD })
  })
  define('body/nfd-as-signed', 'A body in NFD, as signed: accepted, and never normalised before hashing.', (c) => {
    c.send(c.token({ body: NFD }), 'accepted', { body: NFD })
  })
  define('body/bom-as-signed', 'A body that starts with a byte order mark, as signed: the bytes are hashed as they are.', (c) => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), SIGNED_JSON])
    c.send(c.token({ body: withBom }), 'accepted', { body: withBom })
  })
  define('body/empty-as-signed', 'An empty body, signed as empty.', (c) => {
    c.send(c.token({ body: Buffer.alloc(0) }), 'accepted', { body: Buffer.alloc(0) })
  })
  define('body/binary-as-signed', 'Bytes that are not UTF-8, as signed, with their own media type.', (c) => {
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x0d])
    c.send(c.token({ body: binary }), 'accepted', { body: binary, headers: { 'content-type': 'application/octet-stream' } })
  })
  define('body/non-canonical-digest', 'body_sha256 with non-zero trailing bits: it decodes to the right digest, but it is not its one encoding.', (c) => {
    const digest = bodyDigest(SIGNED_JSON)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const nonCanonical = digest.slice(0, -1) + alphabet[alphabet.indexOf(digest.at(-1) as string) | 1]
    c.send(c.token({ claims: { body_sha256: nonCanonical } }), 'WEBHOOK_BODY_DIGEST_MISMATCH', { body: SIGNED_JSON })
  })
  define('body/other-media-type', 'The digest covers the bytes whatever the media type says.', (c) => {
    const text = Buffer.from('invoice in_1042 paid\n')
    c.send(c.token({ body: text }), 'accepted', { body: text, headers: { 'content-type': 'text/plain; charset=utf-8' } })
  })
  define('body/webhook-id-header-differs', 'The webhook-id header is unsigned: a different value changes nothing, the signed claim is authoritative.', (c) => {
    c.send(c.token(), 'accepted', { headers: { 'webhook-id': 'wh_not_the_signed_one' } })
  })

  // --- Replay: each jti once ----------------------------------------------------------------------------------------
  define('replay/same-request-twice', 'The same request twice: the second is a replay.', (c) => {
    const token = c.token()
    c.send(token, 'accepted').send(token, 'WEBHOOK_REPLAYED', { fresh: 'accepted' })
  })
  define('replay/same-jti-resigned', 'Another token (another webhook_id, another iat) with a jti already accepted.', (c) => {
    const jti = c.unique()
    c.send(c.token({ claims: { jti } }), 'accepted')
      .send(c.token({ claims: { jti, iat: NOW - 5, exp: NOW + 295 } }), 'WEBHOOK_REPLAYED', { fresh: 'accepted' })
  })
  define('replay/malleated-signature', 'The same token with its ECDSA signature malleated (s → n − s): another token string, still valid, the same jti.', (c) => {
    const token = c.token()
    c.send(token, 'accepted').send(malleateEcdsa(token), 'WEBHOOK_REPLAYED', { fresh: 'accepted' })
  })
  define('replay/same-webhook-id-new-jti', 'A retry of one event: the same webhook_id, a new jti. Both are accepted (deduplicating on webhook_id is the receiver\'s choice).', (c) => {
    const webhookId = c.unique('wh_')
    c.send(c.token({ claims: { webhook_id: webhookId } }), 'accepted').send(c.token({ claims: { webhook_id: webhookId } }), 'accepted')
  })

  // --- 503: the key set cannot be had now ----------------------------------------------------------------------------
  define('key-set/endpoint-down', 'The JWKS endpoint is down: the receiver cannot know the key. 503 with Retry-After: the sender retries.', (c) => {
    c.keySet = null
    c.send(c.token(), 'WEBHOOK_KEY_UNAVAILABLE')
  })
  for (const [name, what] of [
    ['kid-not-thumbprint', 'a key whose kid is not its RFC 7638 thumbprint'],
    ['private-member', 'a private key (its "d")'],
    ['symmetric-key', 'a symmetric key'],
    ['duplicate-kid', 'one kid twice'],
    ['not-a-key-set', 'a bare JWK, not a set']
  ] as const) {
    define(`key-set/refused-${name}`, `The key set holds ${what}: it is refused whole, as if the endpoint were down, and the sender retries.`, (c) => {
      c.keySet = name
      c.send(c.token(name === 'kid-not-thumbprint' ? { header: { kid: 'es256-key-1' } } : {}), 'WEBHOOK_KEY_UNAVAILABLE')
    })
  }
  define('key-set/refetch-cooling-down', 'Two unknown kids at once: the first makes the receiver refetch (401, final); the second comes within the refetch cooldown, and the set is not newer than its token: 503, retry later.', (c) => {
    c.send(c.token({ key: 'es256-unpublished' }), 'WEBHOOK_KEY_UNKNOWN')
      .send(c.token({ header: { kid: 'another-unknown-kid' } }), 'WEBHOOK_KEY_UNAVAILABLE', { fresh: 'WEBHOOK_KEY_UNKNOWN' })
  })
  define('key-set/fetched-after-signing', 'Two unknown kids at once, the second on a token signed a minute ago: the set just fetched is newer than that token, so a kid missing from it is final: 401, even within the cooldown.', (c) => {
    c.send(c.token({ key: 'es256-unpublished' }), 'WEBHOOK_KEY_UNKNOWN')
      .send(c.token({ header: { kid: 'another-unknown-kid' }, claims: lifetime(NOW - 60) }), 'WEBHOOK_KEY_UNKNOWN')
  })
  define('key-set/down-but-expired', 'The endpoint is down and the token has expired: the claims need no key, so the answer is the final 401, not a 503.', (c) => {
    c.keySet = null
    c.send(c.token({ claims: lifetime(NOW - 86400) }), 'WEBHOOK_TOKEN_EXPIRED')
  })
  define('key-set/down-but-wrong-audience', 'The endpoint is down and the token is for another receiver: 401.', (c) => {
    c.keySet = null
    c.send(c.token({ claims: { aud: OTHER_AUDIENCE } }), 'WEBHOOK_AUDIENCE_INVALID')
  })
  define('key-set/down-but-bad-type', 'The endpoint is down and the token is not a webhook token: 401.', (c) => {
    c.keySet = null
    c.send(c.token({ header: { typ: 'JWT' } }), 'WEBHOOK_TOKEN_TYPE_INVALID')
  })

  // --- 503: the replay store is down ------------------------------------------------------------------------------------
  define('replay-store/down', 'A valid token while the replay store fails: never accepted unchecked, 503.', (c) => {
    c.replayStore = 'down'
    c.send(c.token(), 'WEBHOOK_REPLAY_STORE_UNAVAILABLE', { fresh: 'accepted' })
  })
  define('replay-store/down-but-bad-digest', 'The replay store fails, and the body does not match: the digest comes first, 401.', (c) => {
    c.replayStore = 'down'
    c.send(c.token(), 'WEBHOOK_BODY_DIGEST_MISMATCH', { body: Buffer.from('{}') })
  })
  define('replay-store/down-but-bad-signature', 'The replay store fails, and the signature is not the key\'s: 401.', (c) => {
    c.replayStore = 'down'
    c.send(c.token({ signer: 'es256-unpublished' }), 'WEBHOOK_SIGNATURE_INVALID')
  })

  // --- Deduplication on webhook_id (receivers that deduplicate) ---------------------------------------------------
  define('deduplicate/in-progress-then-duplicate', 'A receiver that deduplicates: while the first delivery of an event is being handled, a retry gets 503 (in progress); once it was handled (2xx), the next retry gets 200 { duplicate: true }, without the handler.', (c) => {
    c.receiver.deduplicate = true
    const webhookId = c.unique('wh_')
    c.send(c.token({ claims: { webhook_id: webhookId } }), 'accepted', { hold: true })
      .send(c.token({ claims: { webhook_id: webhookId } }), 'WEBHOOK_DELIVERY_IN_PROGRESS', { fresh: 'accepted' })
      .send(c.token({ claims: { webhook_id: webhookId } }), 'duplicate', { fresh: 'accepted' })
  })
  define('deduplicate/other-events', 'A receiver that deduplicates accepts distinct events.', (c) => {
    c.receiver.deduplicate = true
    c.send(c.token(), 'accepted').send(c.token(), 'accepted')
  })

  // --- 503: load shedding -----------------------------------------------------------------------------------------------
  define('load/shedding', 'An overloaded receiver sheds a valid delivery with 503 and Retry-After.', (c) => {
    c.load = 'shedding'
    c.send(c.token(), 'WEBHOOK_OVERLOADED', { fresh: 'accepted' })
  })
  define('load/shedding-before-any-check', 'Shedding comes before any check: even a request with no token gets 503.', (c) => {
    c.load = 'shedding'
    c.send(null, 'WEBHOOK_OVERLOADED', { fresh: 'WEBHOOK_TOKEN_MISSING' })
  })
}
