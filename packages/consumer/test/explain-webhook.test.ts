import t from 'tap'
import { explainWebhook, type WebhookConsumerOptions, type WebhookExplanation } from '@webhook-jwt/consumer'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, base64url, claimsFor, signRaw, testKey, tokenFor } from './helpers/token-factory.ts'

const outcomes = (explanation: WebhookExplanation): Record<string, string> =>
  Object.fromEntries(explanation.checks.map((check) => [check.name, check.code === undefined ? check.outcome : `${check.outcome} ${check.code}`]))

t.test('explainWebhook answers what the consumer plugin answers, token by token', async (t) => {
  const key = await testKey()
  const other = await testKey()
  const edKey = await testKey('EdDSA')
  const server = await startJwksServer(t, { keys: [key.publicJwk, edKey.publicJwk] })
  const options = { algorithms: ['ES256' as const, 'EdDSA' as const] }
  const { app } = await buildConsumer(t, server.url, options)
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, string, string?]> = [
    ['valid', tokenFor(key)],
    ['valid EdDSA', tokenFor(edKey)],
    ['malformed', 'not.a.token!'],
    ['typ JWT', tokenFor(key, { header: { typ: 'JWT' } })],
    ['crit', tokenFor(key, { header: { crit: ['exp'] } })],
    ['alg not allowed', signRaw(key, JSON.stringify({ alg: 'ES384', kid: key.kid, typ: 'webhook+jwt' }), JSON.stringify(claimsFor()))],
    ['no kid', tokenFor(key, { header: { kid: undefined } })],
    ['no iss', tokenFor(key, { claims: { iss: undefined } })],
    ['other issuer', tokenFor(key, { claims: { iss: 'https://evil.test' } })],
    ['other audience', tokenFor(key, { claims: { aud: 'https://elsewhere.test' } })],
    ['exp before iat', tokenFor(key, { claims: { iat: now, exp: now - 10 } })],
    ['expired', tokenFor(key, { claims: { iat: now - 400, exp: now - 100 } })],
    ['issued in the future', tokenFor(key, { claims: { iat: now + 100, exp: now + 200 } })],
    ['nbf in the future', tokenFor(key, { claims: { nbf: now + 100 } })],
    ['lives too long', tokenFor(key, { claims: { iat: now, exp: now + 3600 } })],
    ['no jti', tokenFor(key, { claims: { jti: undefined } })],
    ['no body digest', tokenFor(key, { claims: { body_sha256: undefined } })],
    ['bad body digest claim', tokenFor(key, { claims: { body_sha256: 'short' } })],
    // Signed before the consumer's set was fetched, so its answer is final (a recent token would wait out the cooldown: see below).
    ['unknown kid', tokenFor(other, { claims: { iat: now - 60, exp: now + 200 } })],
    ['kid of another key', signRaw(other, JSON.stringify({ alg: 'ES256', kid: key.kid, typ: 'webhook+jwt' }), JSON.stringify(claimsFor()))],
    ['ES256 header on the Ed25519 key', signRaw(key, JSON.stringify({ alg: 'ES256', kid: edKey.kid, typ: 'webhook+jwt' }), JSON.stringify(claimsFor()))],
    ['altered body', tokenFor(key), '{"type":"invoice.paid","invoice":"in_2"}'],
    ['expired and misaddressed', tokenFor(key, { claims: { aud: 'https://elsewhere.test', iat: now - 400, exp: now - 100 } })]
  ]
  for (const [name, token, body = BODY] of cases) {
    const explanation = await explainWebhook({ token, body }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE, ...options })
    const response = await deliver(app, token, body)
    const answer = response.statusCode === 200 ? { status: 200, code: null } : { status: response.statusCode, code: (response.json() as { code: string }).code }
    t.same({ status: explanation.verdict.status, code: explanation.verdict.code }, answer, name)
  }
})

t.test('an unknown kid: the set fetched now lacks it, a final 401, where a consumer that has just fetched waits out its cooldown', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const { app } = await buildConsumer(t, server.url)
  const token = tokenFor(await testKey())
  const explanation = await explainWebhook({ token, body: BODY }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE })
  t.same(explanation.verdict, { status: 401, code: 'WEBHOOK_KEY_UNKNOWN', retryAfter: null })
  const response = await deliver(app, token)
  t.equal(response.statusCode, 503, 'the running consumer fetched at startup, before the token may have been signed')
  t.equal(response.json().code, 'WEBHOOK_KEY_UNAVAILABLE')
})

t.test('every check that can run does, past the first failure', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const now = Math.floor(Date.now() / 1000)
  const token = tokenFor(key, { claims: { aud: 'https://elsewhere.test', iat: now - 400, exp: now - 100 } })
  const explanation = await explainWebhook({ token, body: '{"altered":true}' }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE })
  t.same(outcomes(explanation), {
    format: 'passed',
    type: 'passed',
    critical: 'passed',
    algorithm: 'passed',
    kid: 'passed',
    issuer: 'passed',
    audience: 'failed WEBHOOK_AUDIENCE_INVALID',
    times: 'passed',
    expiry: 'failed WEBHOOK_TOKEN_EXPIRED',
    'not-before': 'passed',
    lifetime: 'passed',
    ids: 'passed',
    'body-digest-claim': 'passed',
    key: 'passed',
    signature: 'passed',
    'body-digest': 'failed WEBHOOK_BODY_DIGEST_MISMATCH',
    replay: 'skipped'
  })
  t.same(explanation.verdict, { status: 401, code: 'WEBHOOK_AUDIENCE_INVALID', retryAfter: null }, 'the first failure in the consumer\'s order')
  t.match(explanation.checks.find((check) => check.name === 'body-digest'), { reason: /^the body's SHA-256 is [A-Za-z0-9_-]{43}$/ })
  t.match(explanation.keySet, { issuer: ISSUER, kids: [key.kid], fresh: true, lastError: null })
  t.match(explanation.claims, { aud: 'https://elsewhere.test' })
  t.equal(server.fetches, 1)
})

t.test('a token that cannot be decoded skips everything else', async (t) => {
  const explanation = await explainWebhook({ token: 'a.b' }, { issuer: ISSUER, jwksUrl: 'http://127.0.0.1:9/jwks', audience: AUDIENCE })
  t.equal(explanation.checks[0]?.outcome, 'failed')
  t.equal(explanation.checks[0]?.code, 'WEBHOOK_TOKEN_MALFORMED')
  t.equal(explanation.checks.length, 17)
  t.ok(explanation.checks.slice(1).every((check) => check.outcome === 'skipped' && check.reason === 'the token cannot be decoded'))
  t.same({ header: explanation.header, claims: explanation.claims, keySet: explanation.keySet }, { header: null, claims: null, keySet: null })
})

t.test('what is skipped, and why', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const reasonOf = async (token: string, options: Partial<WebhookConsumerOptions> = {}, body?: string): Promise<Record<string, string | undefined>> => {
    const explanation = await explainWebhook({ token, ...(body === undefined ? {} : { body }) }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE, ...options })
    return Object.fromEntries(explanation.checks.filter((check) => check.outcome === 'skipped').map((check) => [check.name, check.reason]))
  }
  t.match(await reasonOf(tokenFor(key, { claims: { iss: 'https://evil.test' } }), {}, BODY), { key: /no configured issuer/, signature: /no key/ })
  t.match(await reasonOf(tokenFor(key, { header: { kid: '' } }), {}, BODY), { key: /names no key/ })
  t.match(await reasonOf(tokenFor(key)), { 'body-digest': /no body was given/ })
  t.match(await reasonOf(tokenFor(key, { claims: { body_sha256: undefined } }), { bodyDigest: 'optional' }, BODY), { 'body-digest': /carries no body_sha256/ })
  t.match(await reasonOf(tokenFor(key, { claims: { body_sha256: 'x' } }), {}, BODY), { 'body-digest': /missing or malformed/ })
  const passed = await explainWebhook({ token: tokenFor(key, { claims: { body_sha256: undefined } }), body: BODY }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE, bodyDigest: 'optional' })
  t.same(passed.verdict, { status: 200, code: null, retryAfter: null })
})

t.test('reasons for a key or signature failure name what was found', async (t) => {
  const key = await testKey()
  const edKey = await testKey('EdDSA')
  const server = await startJwksServer(t, { keys: [key.publicJwk, edKey.publicJwk] })
  const options = { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE, algorithms: ['ES256' as const, 'EdDSA' as const] }
  const unknown = await explainWebhook({ token: tokenFor(await testKey()), body: BODY }, options)
  t.match(unknown.checks.find((check) => check.name === 'key'), { outcome: 'failed', code: 'WEBHOOK_KEY_UNKNOWN', reason: `the key set lists only ${key.kid}, ${edKey.kid}` })
  const mismatched = signRaw(key, JSON.stringify({ alg: 'ES256', kid: edKey.kid, typ: 'webhook+jwt' }), JSON.stringify(claimsFor()))
  t.match((await explainWebhook({ token: mismatched, body: BODY }, options)).checks.find((check) => check.name === 'signature'), { outcome: 'failed', code: 'WEBHOOK_SIGNATURE_INVALID', reason: 'the key is for EdDSA, not ES256' })
  const forged = `${tokenFor(key).split('.').slice(0, 2).join('.')}.${base64url(Buffer.alloc(64, 7))}`
  const signature = (await explainWebhook({ token: forged, body: BODY }, options)).checks.find((check) => check.name === 'signature')
  t.same(signature, { name: 'signature', outcome: 'failed', code: 'WEBHOOK_SIGNATURE_INVALID' })

  server.document = { keys: [] }
  const empty = await explainWebhook({ token: tokenFor(key), body: BODY }, options)
  t.match(empty.checks.find((check) => check.name === 'key'), { reason: 'the key set lists no kids' })
})

t.test('a key set that cannot be fetched: 503 with the consumer\'s Retry-After, and why', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t)
  server.handler = (_request, response) => { response.writeHead(500).end() }
  const explanation = await explainWebhook({ token: tokenFor(key), body: BODY }, { issuer: ISSUER, jwksUrl: server.url, audience: AUDIENCE })
  t.match(explanation.checks.find((check) => check.name === 'key'), { outcome: 'failed', code: 'WEBHOOK_KEY_UNAVAILABLE', reason: 'the key set endpoint answered 500', retryAfter: 1 })
  t.same(explanation.verdict, { status: 503, code: 'WEBHOOK_KEY_UNAVAILABLE', retryAfter: 1 })
  t.match(explanation.keySet, { kids: [], usable: false, lastError: 'the key set endpoint answered 500' })
})

t.test('options are the consumer\'s, checked the same way', async (t) => {
  await t.rejects(explainWebhook({ token: 'x' }, { issuer: ISSUER, jwksUrl: 'ftp://sender.test/jwks', audience: AUDIENCE }), { code: 'WEBHOOK_INVALID_OPTION', option: 'jwksUrl' })
})
