import t from 'tap'
import consumer, { memoryReplayStore, WebhookOptionError } from '@webhook-jwt/consumer'
import { readConsumerOptions } from '../src/options.ts'
import { AUDIENCE, ISSUER } from './helpers/token-factory.ts'
import { startupError } from '../../../test/support/fastify-app.ts'

const JWKS_URL = 'http://127.0.0.1:9/jwks.json'

async function registrationError (options: Record<string, unknown>): Promise<unknown> {
  return await startupError(async (app) => await app.register(consumer, options as never))
}

t.test('invalid options are refused at registration, naming the option and its rule', async (t) => {
  const base = { issuer: ISSUER, jwksUrl: JWKS_URL, audience: AUDIENCE }
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ audience: AUDIENCE }, 'issuers', /is required/],
    [{ ...base, issuers: [] }, 'issuers', /cannot be combined/],
    [{ issuers: [], audience: AUDIENCE }, 'issuers', /is required/],
    [{ issuers: [{ issuer: '', jwksUrl: JWKS_URL }], audience: AUDIENCE }, 'issuers[0].issuer', /non-empty iss/],
    [{ issuers: [null], audience: AUDIENCE }, 'issuers[0].issuer', /non-empty iss/],
    [{ issuers: [{ issuer: ISSUER, jwksUrl: JWKS_URL }, { issuer: ISSUER, jwksUrl: JWKS_URL }], audience: AUDIENCE }, 'issuers[1].issuer', /twice/],
    [{ issuers: [{ issuer: ISSUER, jwksUrl: 'ftp://x/jwks' }], audience: AUDIENCE }, 'issuers[0].jwksUrl', /http\(s\) URL/],
    [{ ...base, jwksUrl: 'not a url' }, 'jwksUrl', /http\(s\) URL/],
    [{ ...base, jwksUrl: new URL('file:///etc/jwks') }, 'jwksUrl', /http\(s\) URL \(got "file:\/\/\/etc\/jwks"\)/],
    [{ issuer: ISSUER, jwksUrl: JWKS_URL }, 'audience', /is required/],
    [{ ...base, audience: [] }, 'audience', /is required/],
    [{ ...base, audience: [AUDIENCE, ''] }, 'audience', /is required/],
    [{ ...base, algorithms: ['HS256'] }, 'algorithms', /non-empty list of ES256, EdDSA, ES384, RS256, PS256/],
    [{ ...base, algorithms: [] }, 'algorithms', /non-empty list/],
    [{ ...base, algorithms: 'ES256' }, 'algorithms', /non-empty list/],
    [{ ...base, header: 'X-Token' }, 'header', /lower-case HTTP header name/],
    [{ ...base, bodyDigest: 'off' }, 'bodyDigest', /'required' or 'optional'/],
    [{ ...base, replayStore: {} }, 'replayStore', /remember\(key, expiresAtMs, nowMs\)/],
    [{ ...base, replayStore: 5 }, 'replayStore', /remember/],
    [{ ...base, replayStoreFailure: 'open' }, 'replayStoreFailure', /'reject' \(fail closed: 503, the default\) or 'accept'/],
    [{ ...base, jwks: 5 }, 'jwks', /must be an object/],
    [{ ...base, jwks: { cooldown: -1 } }, 'jwks.cooldown', /must be a duration/],
    [{ ...base, jwks: { timeout: 0 } }, 'jwks.timeout', /more than 0/],
    [{ ...base, jwks: { maxBytes: 0 } }, 'jwks.maxBytes', /at least 1/],
    [{ ...base, jwks: { maxKeys: 1.5 } }, 'jwks.maxKeys', /whole number/],
    [{ ...base, jwks: { requireThumbprintKids: 'yes' } }, 'jwks.requireThumbprintKids', /boolean/],
    [{ ...base, clockTolerance: '1 minute' }, 'clockTolerance', /must be a duration/],
    [{ ...base, maxTokenAge: -5 }, 'maxTokenAge', /must be a duration/],
    [{ ...base, maxTokenBytes: 0 }, 'maxTokenBytes', /at least 1/],
    [{ ...base, clock: {} }, 'clock', /now\(\), setTimeout\(\) and clearTimeout\(\)/]
  ]
  for (const [options, option, message] of cases) {
    const error = await registrationError(options)
    t.match(error, { code: 'WEBHOOK_INVALID_OPTION', option, message }, `${option}: ${message.source}`)
    t.ok((error as Error).message.startsWith(`"${option}" `))
  }
  t.throws(() => readConsumerOptions(null as never), { name: 'WebhookOptionError', message: /^"options" must be an object/ })
})

t.test('defaults', async (t) => {
  const settings = readConsumerOptions({ issuer: ISSUER, jwksUrl: JWKS_URL, audience: AUDIENCE })
  t.match(settings, {
    header: 'authorization',
    clockToleranceSec: 30,
    maxTokenAgeSec: 300,
    maxTokenBytes: 8192,
    bodyDigest: 'required',
    replayStoreFailure: 'reject',
    jwks: { cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5000, maxStaleMs: 3_600_000, maxBytes: 65536, maxKeys: 50, requireThumbprintKids: true }
  })
  t.same([...settings.algorithms], ['ES256'])
  t.same([...settings.audiences], [AUDIENCE])
  t.equal(settings.issuers.get(ISSUER)?.jwksUrl.href, JWKS_URL)
  t.throws(() => memoryReplayStore({ maxEntries: 0 }), { name: 'TypeError', message: /maxEntries/ })
})

t.test('the option error is exported by the plugin, so apps can test for it without the protocol package', async (t) => {
  const error = await registrationError({ issuer: ISSUER, jwksUrl: JWKS_URL })
  t.ok(error instanceof WebhookOptionError)
  t.match(error, { code: 'WEBHOOK_INVALID_OPTION', option: 'audience' })
})
