import t from 'tap'
import type { VerificationEvent } from '@webhook-jwt/consumer'
import { openExchange, rawRequest, requestHead, type RawAnswer } from '../../../test/support/raw-http.ts'
import { buildConsumer } from './helpers/consumer-app.ts'
import { startJwksServer } from './helpers/jwks-server.ts'
import { BODY, testKey, tokenFor, type TestKey } from './helpers/token-factory.ts'

// Request input sent over raw sockets, as no HTTP client library would: the README promises that none of it
// yields a 500. Issue 15, finding 6: a body on GET did.

interface Framing {
  name: string
  /** The body the token is signed for. */
  signed: string
  headers: Record<string, string | number>
  body: string
}

const FRAMINGS: Framing[] = [
  { name: 'Content-Length, JSON', signed: BODY, headers: { 'content-type': 'application/json', 'content-length': BODY.length }, body: BODY },
  { name: 'Content-Length, no type', signed: BODY, headers: { 'content-length': BODY.length }, body: BODY },
  { name: 'chunked', signed: BODY, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n\r\n` },
  { name: 'chunked, no bytes', signed: '', headers: { 'transfer-encoding': 'chunked' }, body: '0\r\n\r\n' }
]

async function readingConsumer (t: Parameters<typeof buildConsumer>[0], key: TestKey): Promise<{ port: number, handled: () => number, verifications: VerificationEvent[] }> {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let handled = 0
  const { app, verifications } = await buildConsumer(t, server.url, {}, (app) => {
    // A method of the app's own, which Fastify then reads no body for, as for GET, HEAD (exposed for GET) and TRACE.
    app.addHttpMethod('PROPFIND')
    app.route({
      method: ['GET', 'TRACE', 'PROPFIND'],
      url: '/read',
      config: { webhook: true },
      handler: async () => {
        handled++
        return { ok: true }
      }
    })
    app.route({
      method: ['DELETE', 'QUERY'],
      url: '/write',
      config: { webhook: true },
      handler: async () => {
        handled++
        return { ok: true }
      }
    })
  })
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port)
  return { port, handled: () => handled, verifications }
}

t.test('issue 15: a body on a method Fastify reads none for is refused 400 WEBHOOK_BODY_NOT_ALLOWED, never a 500', async (t) => {
  const key = await testKey()
  const { port, handled, verifications } = await readingConsumer(t, key)
  for (const method of ['GET', 'HEAD', 'TRACE', 'PROPFIND']) {
    for (const framing of FRAMINGS) {
      const headers = { authorization: `Bearer ${tokenFor(key, { body: framing.signed })}`, ...framing.headers }
      const answer = await rawRequest(port, requestHead(method, '/read', headers) + framing.body)
      const what = `${method}, ${framing.name}`
      t.equal(answer.status, 400, what)
      t.equal(answer.headers['content-type'], 'application/problem+json', what)
      // A HEAD answer has no body; its headers are those of the GET answer.
      if (method !== 'HEAD') t.same(JSON.parse(answer.body), { type: 'urn:webhook-jwt:error:WEBHOOK_BODY_NOT_ALLOWED', title: 'The request has a body on a method that carries none', status: 400, code: 'WEBHOOK_BODY_NOT_ALLOWED' }, what)
      t.equal(answer.headers['www-authenticate'], undefined, `${what}: not an authentication failure`)
      t.equal(answer.headers['retry-after'], undefined, `${what}: nothing to wait for`)
    }
  }
  t.equal(handled(), 0, 'no request with a body reached the handler')
  t.match(verifications.at(-1), { outcome: 'rejected', code: 'WEBHOOK_BODY_NOT_ALLOWED', status: 400, kid: key.kid })

  for (const method of ['GET', 'HEAD', 'TRACE', 'PROPFIND']) {
    const answer = await rawRequest(port, requestHead(method, '/read', { authorization: `Bearer ${tokenFor(key, { body: '' })}` }))
    t.equal(answer.status, 200, `${method} without a body is verified against the digest of no bytes`)
  }
  t.equal(handled(), 4)
  const anonymous = await rawRequest(port, requestHead('GET', '/read', { 'content-length': BODY.length }) + BODY)
  t.equal(anonymous.code, 'WEBHOOK_TOKEN_MISSING', 'the token is checked first, before anything about the body')
})

t.test('odd methods, framing that does not add up, empty bodies with a type: each has its answer, none a 500', async (t) => {
  const key = await testKey()
  const { port, handled } = await readingConsumer(t, key)
  const token = (body: string = BODY): string => `Bearer ${tokenFor(key, { body })}`
  const json = { 'content-type': 'application/json' }
  const cases: Array<[string, string, number, string?]> = [
    ['DELETE with a JSON body: Fastify reads it, so it is verified', requestHead('DELETE', '/write', { authorization: token(), ...json, 'content-length': BODY.length }) + BODY, 200],
    ['DELETE with a body and no type', requestHead('DELETE', '/write', { authorization: token(), 'content-length': BODY.length }) + BODY, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
    ['QUERY with a body and no type', requestHead('QUERY', '/write', { authorization: token(), 'content-length': BODY.length }) + BODY, 400, 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE'],
    ['POST with a body and no type', requestHead('POST', '/hooks', { authorization: token(), 'content-length': BODY.length }) + BODY, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
    ['POST with a type that is not one', requestHead('POST', '/hooks', { authorization: token(), 'content-type': ';;;', 'content-length': BODY.length }) + BODY, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'],
    ['POST, JSON, Content-Length 0', requestHead('POST', '/hooks', { authorization: token(''), ...json, 'content-length': 0 }), 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'],
    ['POST, JSON, no length at all', requestHead('POST', '/hooks', { authorization: token(''), ...json }), 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'],
    ['POST, JSON, chunked with no bytes', requestHead('POST', '/hooks', { authorization: token(''), ...json, 'transfer-encoding': 'chunked' }) + '0\r\n\r\n', 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'],
    ['POST, chunked, a chunk size that is not hex', requestHead('POST', '/hooks', { authorization: token(), ...json, 'transfer-encoding': 'chunked' }) + `zz\r\n${BODY}\r\n0\r\n\r\n`, 400],
    ['POST with Content-Length and chunked', requestHead('POST', '/hooks', { authorization: token(), ...json, 'content-length': 5, 'transfer-encoding': 'chunked' }) + `${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\n\r\n`, 400],
    ['GET with Transfer-Encoding identity', requestHead('GET', '/read', { authorization: token(''), 'transfer-encoding': 'identity' }), 400],
    ['a method HTTP does not know', requestHead('BREW', '/hooks', { authorization: token() }), 400],
    ['a method Node knows and the app does not', requestHead('MKCOL', '/hooks', { authorization: token() }), 404],
    ['HTTP/1.0 with a body and no length', `POST /hooks HTTP/1.0\r\nAuthorization: ${token()}\r\nContent-Type: application/json\r\n\r\n${BODY}`, 400],
    ['a Content-Length above the body limit', requestHead('POST', '/hooks', { authorization: token(), ...json, 'content-length': 99_999_999_999 }) + BODY, 413, 'FST_ERR_CTP_BODY_TOO_LARGE']
  ]
  for (const [name, bytes, status, code] of cases) {
    const answer = await rawRequest(port, bytes)
    t.equal(answer.status, status, `${name}: ${answer.body}`)
    if (code !== undefined) t.equal(answer.code, code, name)
  }

  // The sender stops before the length it announced.
  const short: Array<[string, string]> = [['POST', '/hooks'], ['GET', '/read']]
  for (const [method, path] of short) {
    const exchange = openExchange(port, requestHead(method, path, { authorization: token(), ...json, 'content-length': BODY.length + 10 }) + BODY)
    exchange.end()
    const answer: RawAnswer = await exchange.answer
    t.equal(answer.status, 400, `${method} with a body shorter than its Content-Length: ${answer.body}`)
  }
  t.equal(handled(), 1, 'only the DELETE with its JSON body was handled')
})

t.test('a sender that hangs up inside a body on GET, which nobody reads, does not crash the process', async (t) => {
  const key = await testKey()
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  let handled = 0
  let bodyStreamSetUp: () => void = () => {}
  const setUp = new Promise<void>((resolve) => { bodyStreamSetUp = resolve })
  const { app, verifications } = await buildConsumer(t, server.url, {}, (app) => {
    app.get('/read', {
      config: { webhook: true },
      // Runs once the body stream is set up, before the answer: lets the sender hang up then, and waits (1 s at
      // most) until the request has failed, so the failure comes while the unread stream is there to carry it.
      preValidation: async (request) => {
        const failed = new Promise((resolve) => {
          request.raw.once('close', resolve)
          setTimeout(resolve, 1000).unref()
        })
        bodyStreamSetUp()
        await failed
      }
    }, async () => {
      handled++
      return { ok: true }
    })
  })
  const port = Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port)
  const exchange = openExchange(port, requestHead('GET', '/read', { authorization: `Bearer ${tokenFor(key)}`, 'content-length': BODY.length + 10 }) + BODY)
  await setUp
  exchange.end()
  await exchange.answer.catch(() => undefined)
  for (let waited = 0; verifications.length === 0 && waited < 2000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10))
  t.match(verifications, [{ outcome: 'rejected', code: 'WEBHOOK_BODY_NOT_ALLOWED' }], 'the request was refused, to a sender no longer there')
  const next = await rawRequest(port, requestHead('GET', '/read', { authorization: `Bearer ${tokenFor(key, { body: '' })}` }))
  t.equal(next.status, 200, 'and the server still answers')
  t.equal(handled, 1)
})
