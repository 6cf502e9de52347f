import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_KEY_FILE, memoryKeyStore, WebhookOptionError } from '@webhook-jwt/producer'
import { readProducerOptions } from '../src/options.ts'
import { buildProducer, ISSUER, startupError } from './helpers/producer-app.ts'

async function registrationError (options: Record<string, unknown>): Promise<unknown> {
  return await startupError({ keyStore: memoryKeyStore(), ...options })
}

t.test('invalid options are refused at registration, naming the option and its rule', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ issuer: undefined }, 'issuer', /is required/],
    [{ issuer: '  ' }, 'issuer', /is required/],
    [{ algorithm: 'HS256' }, 'algorithm', /must be one of ES256, EdDSA, ES384, RS256, PS256/],
    [{ algorithm: 'es256' }, 'algorithm', /must be one of/],
    [{ rsaModulusLength: 1024 }, 'rsaModulusLength', /from 2048 to 8192/],
    [{ rsaModulusLength: 2049 }, 'rsaModulusLength', /from 2048 to 8192/],
    [{ rsaModulusLength: '4096' }, 'rsaModulusLength', /from 2048 to 8192/],
    [{ rsaModulusLength: 16384 }, 'rsaModulusLength', /from 2048 to 8192/],
    [{ keyStore: {} }, 'keyStore', /must be a key store/],
    [{ keyStore: null }, 'keyStore', /must be a key store/],
    [{ keyStore: { description: 'x', read: async () => null, write: async () => {}, close: 'yes' } }, 'keyStore', /optionally close\(\)/],
    [{ keyEncryptionKey: 'short' }, 'keyEncryptionKey', /32 random bytes/],
    [{ keyEncryptionKey: new Uint8Array(16) }, 'keyEncryptionKey', /32 random bytes/],
    [{ keyEncryptionKey: 'not base64url!' }, 'keyEncryptionKey', /32 random bytes/],
    [{ keyEncryptionKey: 42 }, 'keyEncryptionKey', /32 random bytes/],
    [{ tokenTtl: 0 }, 'tokenTtl', /at least 1 second/],
    [{ tokenTtl: 1.5 }, 'tokenTtl', /whole number of seconds/],
    [{ tokenTtl: 'soon' }, 'tokenTtl', /must be a duration/],
    [{ clockSkew: -1 }, 'clockSkew', /must be a duration/],
    [{ header: 'Bad Header' }, 'header', /lower-case HTTP header name/],
    [{ header: 7 }, 'header', /lower-case HTTP header name/],
    [{ header: 'content-type' }, 'header', /other than content-type, content-length, transfer-encoding, host, webhook-id/],
    [{ header: 'webhook-id' }, 'header', /other than/],
    [{ rotation: { publishLead: '3651d' } }, 'rotation.publishLead', /at most ten years/],
    [{ jwks: 'yes' }, 'jwks', /must be an object/],
    [{ jwks: { path: 'jwks.json' } }, 'jwks.path', /starting with '\/'/],
    [{ jwks: { maxAge: 1.5 } }, 'jwks.maxAge', /whole number of seconds/],
    [{ rotation: [] }, 'rotation', /must be an object/],
    [{ rotation: { every: 'often' } }, 'rotation.every', /must be a duration/],
    [{ clock: { now: () => 0 } }, 'clock', /now\(\), setTimeout\(\) and clearTimeout\(\)/],
    [{ clock: 5 }, 'clock', /now\(\), setTimeout\(\) and clearTimeout\(\)/]
  ]
  for (const [options, option, message] of cases) {
    const error = await registrationError(options)
    t.match(error, { code: 'WEBHOOK_INVALID_OPTION', option, message }, `${option}: ${JSON.stringify(options)}`)
    t.ok((error as Error).message.startsWith(`"${option}" `), 'the message starts with the option name')
  }
})

t.test('options must be an object', async (t) => {
  t.throws(() => readProducerOptions(null as never), { code: 'WEBHOOK_INVALID_OPTION', option: 'options' })
})

t.test('unsafe rotation windows are refused with the rule they break', async (t) => {
  const publishLead = await registrationError({ jwks: { maxAge: 600 }, clockSkew: 30, rotation: { publishLead: 600 } })
  t.match(publishLead, { code: 'WEBHOOK_UNSAFE_ROTATION', option: 'rotation.publishLead', message: /at least jwks\.maxAge \+ clockSkew \(10m30s\).*\(got 10m\)/ })
  const retireAfter = await registrationError({ tokenTtl: 300, clockSkew: 30, rotation: { retireAfter: '5m' } })
  t.match(retireAfter, { code: 'WEBHOOK_UNSAFE_ROTATION', option: 'rotation.retireAfter', message: /at least tokenTtl \+ clockSkew \(5m30s\).*last token it signed has expired/ })
  const every = await registrationError({ jwks: { maxAge: 60 }, tokenTtl: 60, clockSkew: 0, rotation: { every: 100 } })
  t.match(every, { code: 'WEBHOOK_UNSAFE_ROTATION', option: 'rotation.every', message: /at least rotation\.publishLead \+ rotation\.retireAfter \(2m\).*\(got 1m40s\)/ })
})

t.test('derived defaults are the safe minimums', async (t) => {
  const settings = readProducerOptions({ issuer: ISSUER, keyStore: memoryKeyStore() })
  t.match(settings, { algorithm: 'ES256', tokenTtl: 300, clockSkew: 30, jwksMaxAge: 600, jwksPath: '/.well-known/jwks.json', header: 'authorization', publishLead: 630, retireAfter: 330, rotationEvery: 30 * 86400, rsaModulusLength: 2048, keyEncryptionKey: null })
  const long = readProducerOptions({ issuer: ISSUER, keyStore: memoryKeyStore(), jwks: { maxAge: '40d' } })
  t.equal(long.rotationEvery, long.publishLead + long.retireAfter, 'a max-age longer than the default period stretches the period')
  t.equal(readProducerOptions({ issuer: ISSUER, keyStore: memoryKeyStore(), rotation: { every: false } }).rotationEvery, null)
  t.equal(readProducerOptions({ issuer: ISSUER, keyStore: memoryKeyStore(), keyEncryptionKey: Buffer.alloc(32, 1).toString('base64url') }).keyEncryptionKey?.length, 32)
})

t.test('without keyStore, keys go to the documented file, whose location is logged', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'webhook-jwt-default-'))
  const cwd = process.cwd()
  process.chdir(folder)
  t.teardown(() => process.chdir(cwd))
  const { app, logs } = await buildProducer(t)
  const path = join(folder, DEFAULT_KEY_FILE)
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(join(folder, '.webhook-jwt')).mode & 0o777, 0o700)
  t.match(JSON.parse(readFileSync(path, 'utf8')), { format: 'webhook-jwt/key-set@1', revision: 1, keys: [{ kid: app.webhooks.status().activeKid, state: 'active' }] })
  t.match(logs.find((line) => line.keyStore !== undefined), { keyStore: path, msg: `webhook signing keys are stored in ${path}` })
})

t.test('the option error is exported by the plugin, so apps can test for it without the protocol package', async (t) => {
  const error = await registrationError({ tokenTtl: 'soon' })
  t.ok(error instanceof WebhookOptionError)
  t.match(error, { code: 'WEBHOOK_INVALID_OPTION', option: 'tokenTtl' })
})
