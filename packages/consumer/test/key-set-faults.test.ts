import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import { createManualClock, keyIdOf } from '@webhook-jwt/protocol'
import { buildConsumer, deliver } from './helpers/consumer-app.ts'
import { startJwksServer, type JwksServer } from './helpers/jwks-server.ts'
import { testKey, tokenFor, type TestKey } from './helpers/token-factory.ts'

// A JWKS endpoint that misbehaves in every way the catalogue lists (items 30-41). Whatever it does, the
// consumer answers 503 with Retry-After for what it cannot know (never 401, never 500), and a consumer that
// already holds a good set keeps verifying its kids.

type Fault = (request: IncomingMessage, response: ServerResponse) => void

async function faults (key: TestKey, redirectTarget: JwksServer): Promise<Array<[string, Fault, RegExp]>> {
  const json = (document: unknown, type = 'application/json'): Fault => (_request, response) => {
    response.writeHead(200, { 'content-type': type })
    response.end(JSON.stringify(document))
  }
  const rsa = (options: { modulusLength: number, publicExponent?: number }): Record<string, unknown> => {
    const jwk = generateKeyPairSync('rsa', options).publicKey.export({ format: 'jwk' })
    return { ...jwk, alg: 'RS256' }
  }
  const weak = rsa({ modulusLength: 1024 })
  const exponent3 = rsa({ modulusLength: 2048, publicExponent: 3 })
  const offCurve = { ...key.publicJwk, y: Buffer.from(Buffer.from(key.publicJwk.y as string, 'base64url').map((byte, index) => index === 31 ? byte ^ 1 : byte)).toString('base64url') }
  return [
    ['hangs before the headers', () => {}, /did not answer in full within 300 ms/],
    ['trickles its body', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"keys":[')
    }, /did not answer in full within 300 ms/],
    ['answers 500', (_request, response) => { response.writeHead(500).end('internal details that must not leak') }, /answered 500/],
    ['answers 204', (_request, response) => { response.writeHead(204).end() }, /answered 204/],
    ['serves an HTML login page', (_request, response) => { response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>') }, /media type other than JSON/],
    ['serves JSON as text/html', json({ keys: [key.publicJwk] }, 'text/html'), /media type other than JSON/],
    ['serves no media type', (_request, response) => { response.end(JSON.stringify({ keys: [key.publicJwk] })) }, /media type other than JSON/],
    ['serves a huge body', (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ keys: [key.publicJwk], padding: 'x'.repeat(200_000) }))
    }, /larger than jwks.maxBytes \(65536 bytes\)/],
    ['redirects', (_request, response) => { response.writeHead(302, { location: redirectTarget.url.href }).end() }, /answered 302/],
    ['serves invalid JSON', (_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": [') }, /not valid JSON/],
    ['serves null', json(null), /not a JWK Set/],
    ['serves {"keys":{}}', json({ keys: {} }), /not a JWK Set/],
    ['serves [null]', json({ keys: [null] }), /keys\[0\] is not a JWK/],
    ['serves a duplicate kid', json({ keys: [key.publicJwk, { ...key.publicJwk }] }), /names two keys/],
    ['serves a private key', json({ keys: [key.publicJwk, { ...key.publicJwk, kid: 'other', d: 'AAAA' }] }), /private member "d"/],
    ['serves a symmetric key', json({ keys: [key.publicJwk, { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'hmac' }] }), /symmetric key/],
    ['serves a key off its curve', json({ keys: [offCurve] }), /not a valid public key/],
    ['serves an RSA key with e = 3', json({ keys: [key.publicJwk, { ...exponent3, kid: await keyIdOf(exponent3) }] }), /exponent other than 65537/],
    ['serves a 1024-bit RSA key', json({ keys: [key.publicJwk, { ...weak, kid: await keyIdOf(weak) }] }), /under 2048 bits/],
    ['serves a kid that is not the thumbprint', json({ keys: [{ ...key.publicJwk, kid: 'chosen' }] }), /not the RFC 7638 thumbprint/],
    ['serves too many keys', json({ keys: Array.from({ length: 51 }, () => key.publicJwk) }), /51 keys, more than jwks.maxKeys \(50\)/]
  ]
}

t.test('a consumer that has no key set yet answers 503, never 401, whatever the endpoint does', async (t) => {
  const key = await testKey()
  const redirectTarget = await startJwksServer(t, { keys: [key.publicJwk] })
  for (const [name, fault, reason] of await faults(key, redirectTarget)) {
    const server = await startJwksServer(t)
    server.handler = fault
    const { app, handled } = await buildConsumer(t, server.url, { jwks: { timeout: 0.3, cooldown: 0 } })
    const response = await deliver(app, tokenFor(key))
    t.equal(response.statusCode, 503, name)
    t.equal(response.json().code, 'WEBHOOK_KEY_UNAVAILABLE', name)
    t.ok(Number(response.headers['retry-after']) >= 1, `${name}: Retry-After`)
    t.notMatch(response.body, /internal details|login/, `${name}: nothing from the endpoint is echoed`)
    t.same(handled, [])
    const [status] = app.webhookConsumer.status()
    t.match(status, { usable: false, kids: [], lastError: reason }, name)
    t.notOk(app.webhookConsumer.healthy(), `${name}: unhealthy`)
    await app.close()
  }
  t.equal(redirectTarget.fetches, 0, 'the redirect was not followed')
})

t.test('a consumer holding a good set keeps verifying its kids when the endpoint turns bad', async (t) => {
  const key = await testKey()
  const redirectTarget = await startJwksServer(t, { keys: [key.publicJwk] })
  for (const [name, fault, reason] of await faults(key, redirectTarget)) {
    const server = await startJwksServer(t, { keys: [key.publicJwk] })
    server.maxAge = 1
    const clock = createManualClock(Date.now())
    const { app, fetches, logs } = await buildConsumer(t, server.url, { jwks: { timeout: 0.3, cooldown: 0 }, clock })
    server.handler = fault
    clock.advance(1001)
    const response = await deliver(app, tokenFor(key, { nowSec: clock.now() / 1000 }))
    t.equal(response.statusCode, 200, `${name}: ${response.body}`)
    t.match(fetches.at(-1), { outcome: 'failed', stale: true, error: reason, kids: [key.kid] }, name)
    t.ok(logs.some((line) => line.msg === 'webhook key set refresh failed; verifying known kids from the last good set'), `${name}: warned`)
    t.match(app.webhookConsumer.status(), [{ stale: true, usable: true, fresh: false, kids: [key.kid] }])
    const unknown = await deliver(app, tokenFor(await testKey(), { nowSec: clock.now() / 1000 }))
    t.equal(unknown.statusCode, 503, `${name}: an unknown kid while the endpoint fails is 503`)
    await app.close()
  }
})
