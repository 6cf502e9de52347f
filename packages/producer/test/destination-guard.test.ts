import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { systemClock } from '@webhook-jwt/protocol'
import { memoryKeyStore, type DeliveryAttemptEvent, type DeliveryOptions, type DeliveryOutcomeEvent } from '@webhook-jwt/producer'
import { checkedLookup, DestinationPolicy, guardedAgent, type LookupFunction } from '../src/delivery/destination-guard.ts'
import { sendAttempt } from '../src/delivery/send-attempt.ts'
import { buildProducer, LOOPBACK_NETWORKS, until } from './helpers/producer-app.ts'

// Server-side request forgery: deliveries connect only to public addresses unless delivery.allowedNetworks
// says otherwise. Every receiver here is on loopback, and counts the TCP connections it accepts: a refused
// destination must never have been dialled. No test sends anything anywhere else.

/** One port, P, listened on at both 127.0.0.1:P and [::1]:P, counting connections and requests on each. */
interface LoopbackReceiver {
  port: number
  connections: { ipv4: number, ipv6: number }
  requests: number
}

async function listen (server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

async function startLoopbackReceiver (t: Test, connectionHeader = 'keep-alive'): Promise<LoopbackReceiver> {
  const receiver: LoopbackReceiver = { port: 0, connections: { ipv4: 0, ipv6: 0 }, requests: 0 }
  const serve = (): Server => createServer((request, response) => {
    receiver.requests++
    request.resume().on('end', () => response.writeHead(204, { connection: connectionHeader }).end())
  })
  const [ipv4, ipv6] = [serve(), serve()]
  ipv4.on('connection', () => { receiver.connections.ipv4++ })
  ipv6.on('connection', () => { receiver.connections.ipv6++ })
  t.teardown(async () => {
    for (const server of [ipv4, ipv6]) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
  // The port 127.0.0.1 got may be taken on ::1: take another.
  for (let tries = 0; ; tries++) {
    await listen(ipv4, 0, '127.0.0.1')
    receiver.port = (ipv4.address() as AddressInfo).port
    try {
      await listen(ipv6, receiver.port, '::1')
      return receiver
    } catch (error) {
      await new Promise((resolve) => ipv4.close(resolve))
      if (tries === 5) throw error
    }
  }
}

interface Sender {
  app: Awaited<ReturnType<typeof buildProducer>>['app']
  logs: Awaited<ReturnType<typeof buildProducer>>['logs']
  attempts: DeliveryAttemptEvent[]
  outcomes: DeliveryOutcomeEvent[]
}

async function startSender (t: Test, delivery: DeliveryOptions = {}): Promise<Sender> {
  const { app, logs } = await buildProducer(t, { keyStore: memoryKeyStore(), rotation: { every: false }, delivery })
  const sender: Sender = { app, logs, attempts: [], outcomes: [] }
  app.webhooks.on('attempt', (event) => sender.attempts.push(event))
  app.webhooks.on('outcome', (event) => sender.outcomes.push(event))
  return sender
}

/** Every spelling of loopback the issue found delivered to; the WHATWG URL parser turns the last two into 127.0.0.1. */
const loopbackUrls = (port: number): string[] => [
  `http://127.0.0.1:${port}/hooks`,
  `http://localhost:${port}/hooks`,
  `http://[::1]:${port}/hooks`,
  `http://[::ffff:127.0.0.1]:${port}/hooks`,
  `http://2130706433:${port}/hooks`,
  `http://0x7f.1:${port}/hooks`
]

t.test('by default, loopback in any spelling is refused with WEBHOOK_DESTINATION_FORBIDDEN, at once, without a connection; allowed, it is delivered', async (t) => {
  const receiver = await startLoopbackReceiver(t)
  const sender = await startSender(t)
  const urls = loopbackUrls(receiver.port)
  for (const url of urls) await sender.app.webhooks.deliver(url, { type: 'ping' })
  await until(() => sender.outcomes.length === urls.length)
  t.same(receiver.connections, { ipv4: 0, ipv6: 0 }, 'no connection reached 127.0.0.1:P or [::1]:P')
  t.equal(receiver.requests, 0)
  t.equal(sender.attempts.length, urls.length, 'one attempt each, although the default schedule has nine retries')
  for (const attempt of sender.attempts) {
    t.match(attempt, { attempt: 1, verdict: 'failed', error: 'WEBHOOK_DESTINATION_FORBIDDEN', nextAttemptAt: null }, attempt.url)
    t.notOk('status' in attempt, 'no answer, so no status')
  }
  for (const outcome of sender.outcomes) t.match(outcome, { outcome: 'failed', attempts: 1, error: 'WEBHOOK_DESTINATION_FORBIDDEN' }, outcome.url)
  const refusals = sender.logs.filter((line) => line.msg === 'webhook failed')
  t.equal(refusals.length, urls.length, 'each refusal is logged')
  const messages = refusals.map((line) => line.err as { code: string, message: string })
  t.ok(messages.every(({ code }) => code === 'WEBHOOK_DESTINATION_FORBIDDEN'))
  t.match(messages.map(({ message }) => message).sort(), [
    /^The delivery destination 127\.0\.0\.1 is refused: 127\.0\.0\.1 is in 127\.0\.0\.0\/8 \(loopback\), not a public address/,
    /^The delivery destination 127\.0\.0\.1 is refused/,
    /^The delivery destination 127\.0\.0\.1 is refused/,
    /^The delivery destination ::1 is refused: ::1 is in ::1\/128 \(loopback\)/,
    /^The delivery destination ::ffff:7f00:1 is refused: ::ffff:7f00:1 is in ::ffff:0:0\/96 \(IPv4-mapped\), carrying 127\.0\.0\.1 in 127\.0\.0\.0\/8 \(loopback\)/,
    /^The delivery destination localhost is refused: (127\.0\.0\.1 is in 127\.0\.0\.0\/8|::1 is in ::1\/128) \(loopback\)/
  ], 'the message names the address refused (localhost: the address it resolved to)')

  const allowing = await startSender(t, { allowedNetworks: LOOPBACK_NETWORKS })
  for (const url of urls) await allowing.app.webhooks.deliver(url, { type: 'ping' })
  await until(() => allowing.outcomes.length === urls.length)
  t.same(allowing.outcomes.map((outcome) => outcome.outcome), Array(urls.length).fill('delivered'), 'with delivery.allowedNetworks [127.0.0.0/8, ::1/128], the same deliveries arrive')
  t.equal(receiver.requests, urls.length)
  t.ok(receiver.connections.ipv4 > 0 && receiver.connections.ipv6 > 0, '[::1] went to ::1, the others to 127.0.0.1')
})

t.test('an allowed network lets only itself through: ::1 stays refused when only 127.0.0.0/8 is allowed', async (t) => {
  const receiver = await startLoopbackReceiver(t)
  const sender = await startSender(t, { allowedNetworks: ['127.0.0.0/8'] })
  await sender.app.webhooks.deliver(`http://[::1]:${receiver.port}/hooks`, {})
  await sender.app.webhooks.deliver(`http://127.0.0.1:${receiver.port}/hooks`, {})
  await until(() => sender.outcomes.length === 2)
  t.same(sender.outcomes.map((outcome) => [outcome.url, outcome.outcome]), [
    [`http://[::1]:${receiver.port}/hooks`, 'failed'],
    [`http://127.0.0.1:${receiver.port}/hooks`, 'delivered']
  ])
  t.same(receiver.connections, { ipv4: 1, ipv6: 0 })
})

t.test('a name is judged by the addresses it resolves to, on every new connection (DNS rebinding)', async (t) => {
  // The receiver closes each connection, so every attempt connects, and resolves the name, afresh.
  const receiver = await startLoopbackReceiver(t, 'close')
  const answers = [['127.0.0.1'], ['::1'], ['127.0.0.1', '::1']]
  const asked: string[] = []
  const resolve: LookupFunction = (hostname, _options, callback) => {
    asked.push(hostname)
    callback(null, (answers.shift() ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))
  }
  const agent = guardedAgent(new DestinationPolicy(['127.0.0.0/8']), resolve)
  t.teardown(() => agent.destroy())
  const attempt = async (): ReturnType<typeof sendAttempt> => await sendAttempt({ url: `http://hooks.customer.test:${receiver.port}/hooks`, headers: {}, body: Buffer.from('{}'), timeoutMs: 10_000, clock: systemClock, closing: new AbortController().signal, agent })
  t.match(await attempt(), { kind: 'response', status: 204 }, 'first it resolves to an allowed address')
  const rebound = await attempt()
  t.match(rebound, { kind: 'forbidden', reason: { code: 'WEBHOOK_DESTINATION_FORBIDDEN', message: /^The delivery destination hooks\.customer\.test is refused: ::1 is in ::1\/128 \(loopback\)/ } }, 'then to a refused one')
  t.match(await attempt(), { kind: 'forbidden', reason: { message: /: ::1 is in/ } }, 'one refused address among allowed ones refuses the name')
  t.same(asked, ['hooks.customer.test', 'hooks.customer.test', 'hooks.customer.test'])
  t.same(receiver.connections, { ipv4: 1, ipv6: 0 }, 'the refused address was never dialled')
})

t.test('a name that resolves to a private address is refused; one that does not resolve is a network error, retried', async (t) => {
  const resolve: LookupFunction = (hostname, _options, callback) => {
    if (hostname === 'internal.customer.test') callback(null, [{ address: '127.0.0.1', family: 4 }])
    else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), [])
  }
  const agent = guardedAgent(new DestinationPolicy([]), resolve)
  t.teardown(() => agent.destroy())
  const attempt = async (host: string): ReturnType<typeof sendAttempt> => await sendAttempt({ url: `http://${host}/hooks`, headers: {}, body: Buffer.from('{}'), timeoutMs: 10_000, clock: systemClock, closing: new AbortController().signal, agent })
  t.match(await attempt('internal.customer.test'), { kind: 'forbidden', reason: { message: /^The delivery destination internal\.customer\.test is refused: 127\.0\.0\.1 is in 127\.0\.0\.0\/8/ } })
  t.same(await attempt('nowhere.customer.test'), { kind: 'network', error: 'ENOTFOUND' })
})

t.test('the checked lookup answers as net.connect asks: every address, or the first one', async (t) => {
  const resolve: LookupFunction = (_hostname, options, callback) => {
    t.equal(options.all, true, 'it always resolves every address, to check them all')
    callback(null, [{ address: '127.0.0.2', family: 4 }, { address: '::1', family: 6 }])
  }
  const lookup = checkedLookup(new DestinationPolicy(LOOPBACK_NETWORKS), resolve)
  const answer = async (options: { all?: boolean }): Promise<unknown[]> => await new Promise((resolve) => lookup('receiver.test', options, (...args) => resolve(args)))
  t.same(await answer({ all: true }), [null, [{ address: '127.0.0.2', family: 4 }, { address: '::1', family: 6 }]])
  t.same(await answer({}), [null, '127.0.0.2', 4])
})

t.test('the policy: IPv4-mapped addresses are judged as the IPv4 they reach; the families are kept apart', async (t) => {
  const refused = (allowed: string[], address: string): boolean => new DestinationPolicy(allowed).refusal(address) !== null
  t.notOk(refused(['127.0.0.0/8'], '::ffff:127.0.0.1'), 'an allowed IPv4 network allows its IPv4-mapped form')
  t.ok(refused(['::/0'], '127.0.0.1'), 'an IPv6 network does not allow IPv4 addresses')
  t.ok(refused(['0.0.0.0/0'], '::1'), 'nor the reverse')
  t.notOk(refused(['0.0.0.0/0', '::/0'], '169.254.169.254'), 'both families allowed: the guard is off')
  t.ok(refused(['10.0.0.0/8'], '64:ff9b::a00:1'), 'a NAT64 address is dialled as IPv6: an IPv4 network does not allow it')
  t.notOk(refused(['64:ff9b::a00:0/120'], '64:ff9b::a00:1'), 'its IPv6 network does')
  t.notOk(refused([], '2606:4700:4700::1111'), 'a public address needs no allowance')
})

t.test('delivery URLs with credentials are refused by deliver(), and no event, log line or error carries them', async (t) => {
  const receiver = await startLoopbackReceiver(t)
  const sender = await startSender(t, { allowedNetworks: LOOPBACK_NETWORKS })
  const withCredentials = `http://hook-user:s3cret-pw@127.0.0.1:${receiver.port}/hooks`
  await t.rejects(sender.app.webhooks.deliver(withCredentials, {}), {
    name: 'TypeError',
    message: `"url" must not carry a user name or password (user:password@) (got "http://127.0.0.1:${receiver.port}/hooks")`
  })
  await t.rejects(sender.app.webhooks.deliver(`http://:s3cret-pw@127.0.0.1:${receiver.port}/hooks`, {}), { name: 'TypeError', message: /must not carry a user name or password/ })
  const others = ['ftp://hook-user:s3cret-pw@files.test/hooks', 'http://hook-user:s3cret-pw@[not-an-address/hooks']
  for (const url of others) {
    const error = await sender.app.webhooks.deliver(url, {}).catch((error: unknown) => error as Error)
    t.match(error, { name: 'TypeError', message: /must be an absolute http: or https: URL/ })
    t.notMatch((error as Error).message, /hook-user|s3cret/, 'the refusal itself does not echo them')
  }
  t.throws(() => sender.app.webhooks.restoreEndpoint(withCredentials), TypeError)
  await sender.app.webhooks.deliver(`http://127.0.0.1:${receiver.port}/hooks`, {})
  await until(() => sender.outcomes.length === 1)
  t.equal(receiver.requests, 1, 'only the delivery without credentials was sent')
  t.notMatch(JSON.stringify([sender.attempts, sender.outcomes, sender.logs]), /hook-user|s3cret/)
})
