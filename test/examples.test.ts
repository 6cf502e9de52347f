import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'

// The two examples as users start them: real processes on loopback, started with the package's own start
// command, talking over HTTP, observed through their JSON logs and their exit codes.

const ROOT = join(import.meta.dirname, '..')
const EXAMPLES = join(ROOT, 'examples')
/** tsx compiles the example on start; a loaded CI machine can take a while. */
const START_TIMEOUT_MS = 30_000
const LOG_TIMEOUT_MS = 10_000
const EXIT_TIMEOUT_MS = 10_000

type LogLine = Record<string, unknown> & { msg?: string }

interface ExampleProcess {
  logs: LogLine[]
  /** Everything that was not a JSON log line: stderr, and stdout that did not parse. */
  output: () => string
  waitForLog: (what: string, matches: (line: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine>
  exit: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  stop: (signal: NodeJS.Signals) => void
  running: () => boolean
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function startExample (name: 'producer' | 'consumer', env: Record<string, string>): ExampleProcess {
  const child = spawn(process.execPath, ['--conditions=@webhook-jwt/source', '--import', 'tsx', 'server.ts'], {
    cwd: join(EXAMPLES, name),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: LogLine[] = []
  const other: string[] = []
  const lineListeners = new Set<(line: LogLine) => void>()
  let exited = false
  const exit = once(child, 'exit').then(([code, signal]) => {
    exited = true
    return { code: code as number | null, signal: signal as NodeJS.Signals | null }
  })
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      other.push(text)
      return
    }
    logs.push(line)
    for (const listener of lineListeners) listener(line)
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => other.push(chunk))

  async function waitForLog (what: string, matches: (line: LogLine) => boolean, timeoutMs = LOG_TIMEOUT_MS): Promise<LogLine> {
    const seen = logs.find(matches)
    if (seen !== undefined) return seen
    let listener: ((line: LogLine) => void) | undefined
    const found = new Promise<LogLine>((resolve) => {
      listener = (line) => { if (matches(line)) resolve(line) }
      lineListeners.add(listener)
    })
    const exitedFirst = exit.then(({ code }) => { throw new Error(`the ${name} example exited (code ${code}) before logging ${what}:\n${other.join('')}`) })
    try {
      return await withTimeout(Promise.race([found, exitedFirst]), timeoutMs, `the ${name} example to log ${what}`)
    } finally {
      lineListeners.delete(listener as (line: LogLine) => void)
    }
  }

  return {
    logs,
    output: () => other.join(''),
    waitForLog,
    exit,
    stop: (signal) => { if (!exited) child.kill(signal) },
    running: () => !exited
  }
}

async function startListening (t: Test, name: 'producer' | 'consumer', env: Record<string, string>): Promise<ExampleProcess> {
  const example = startExample(name, env)
  // A safety net for failed tests: the graceful path is asserted by its own test below.
  t.teardown(async () => {
    if (!example.running()) return
    example.stop('SIGKILL')
    await example.exit
  })
  await example.waitForLog('"Server listening"', (line) => line.msg?.startsWith('Server listening') === true, START_TIMEOUT_MS)
  return example
}

/** Runs a shell script as a user pastes it (bash, stop at the first failure) and collects its output. */
async function runScript (script: string, cwd: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn('bash', ['-e', '-c', script], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await withTimeout(once(child, 'exit'), 60_000, 'the README\'s commands') as [number | null]
  return { code, stdout, stderr }
}

interface SendAnswer {
  status: number
  webhookId: string
  kid: string
  code?: string
  error?: string
}

async function send (producerPort: number, request: Record<string, unknown>): Promise<{ status: number, body: SendAnswer }> {
  const response = await fetch(`http://127.0.0.1:${producerPort}/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal: AbortSignal.timeout(LOG_TIMEOUT_MS)
  })
  return { status: response.status, body: await response.json() as SendAnswer }
}

t.test('the producer and consumer examples, running side by side', async (t) => {
  const producerPort = await freePort()
  const consumerPort = await freePort()
  const keyFile = join(mkdtempSync(join(tmpdir(), 'webhook-jwt-examples-')), 'signing-keys.json')
  const producer = await startListening(t, 'producer', { PORT: String(producerPort), WEBHOOK_KEY_FILE: keyFile })
  const consumer = await startListening(t, 'consumer', { PORT: String(consumerPort), WEBHOOK_ISSUER: `http://127.0.0.1:${producerPort}` })
  const hooks = `http://127.0.0.1:${consumerPort}/hooks`

  t.test('POST /send delivers a webhook that the consumer verifies and logs', async (t) => {
    const keys = await producer.waitForLog('where its keys are', (line) => typeof line.activeKid === 'string')
    t.equal(keys.keyStore, keyFile, 'the key file from WEBHOOK_KEY_FILE')

    const { status, body } = await send(producerPort, { url: hooks, event: { type: 'order.paid' } })
    t.equal(status, 200)
    t.match(body, { status: 200, webhookId: /^wh_/, kid: keys.activeKid })
    t.notOk('code' in body, 'no receiver error code')

    const verified = await consumer.waitForLog('"webhook verified"', (line) => line.msg === 'webhook verified')
    t.match(verified, { webhook: { id: body.webhookId, kid: keys.activeKid, issuer: `http://127.0.0.1:${producerPort}` }, type: 'order.paid' })
  })

  t.test('the README\'s troubleshooting sequence, decode → jwks → verify, runs against the running examples', async (t) => {
    // The commands exactly as the README shows them, on this test's ports, from the repository root.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const block = /<!-- troubleshooting -->\n```sh\n([\s\S]*?)```\n<!-- \/troubleshooting -->/.exec(readme)?.[1]
    t.ok(block, 'the README has the sequence')
    const script = (block as string).replaceAll(':3000', `:${producerPort}`).replaceAll(':3001', `:${consumerPort}`)
    const files = ['signed.json', 'body.json'].map((name) => join(ROOT, name))
    t.teardown(() => { for (const file of files) rmSync(file, { force: true }) })
    const run = await runScript(script, ROOT)
    t.equal(run.code, 0, run.stderr)
    t.match(run.stdout, /^Header\n {2}alg {2}ES256\n {2}kid {2}[\w-]{43}\n {2}typ {2}webhook\+jwt\nClaims\n/)
    t.notMatch(run.stdout, /Warnings/, 'decode finds nothing wrong')
    t.match(run.stdout, `Key set  http://127.0.0.1:${producerPort}/.well-known/jwks.json  200 OK`)
    t.match(run.stdout, /Cache-Control +public, max-age=600/)
    t.match(run.stdout, /✓ a consumer accepts this key set: 1 of 1 key usable\n✓ kid [\w-]{43} is present/)
    t.match(run.stdout, `Verifying as a consumer for issuer http://127.0.0.1:${producerPort}, audience ${hooks}`)
    t.match(run.stdout, '✓ body-digest        the body\'s SHA-256 matches body_sha256')
    t.match(run.stdout, /\nAnswer {2}200 verified: /)
  })

  t.test('a webhook signed for another audience comes back through /send with the consumer\'s 401 code', async (t) => {
    const { status, body } = await send(producerPort, { url: hooks, event: { type: 'order.paid' }, audience: 'http://127.0.0.1/somewhere-else' })
    t.equal(status, 200, '/send itself worked')
    t.match(body, { status: 401, code: 'WEBHOOK_AUDIENCE_INVALID', webhookId: /^wh_/ })
    await consumer.waitForLog('"webhook rejected"', (line) => line.msg === 'webhook rejected' && line.code === 'WEBHOOK_AUDIENCE_INVALID')
    t.notOk(consumer.logs.some((line) => line.msg === 'webhook verified' && (line.webhook as { id?: unknown }).id === body.webhookId), 'not logged as verified')
  })

  t.test('a receiver that cannot be reached is a 502 from /send, naming the webhook it did not deliver', async (t) => {
    const { status, body } = await send(producerPort, { url: `http://127.0.0.1:${await freePort()}/hooks`, event: { type: 'order.paid' } })
    t.equal(status, 502)
    t.match(body, { webhookId: /^wh_/, kid: String, error: 'the receiver could not be reached' })
  })

  t.test('/send refuses a URL that is not http(s)', async (t) => {
    const { status } = await send(producerPort, { url: 'file:///etc/passwd', event: { type: 'order.paid' } })
    t.equal(status, 400)
  })

  t.test('both examples close gracefully on SIGTERM and exit 0', async (t) => {
    producer.stop('SIGTERM')
    consumer.stop('SIGTERM')
    t.same(await withTimeout(producer.exit, EXIT_TIMEOUT_MS, 'the producer to exit'), { code: 0, signal: null }, producer.output())
    t.same(await withTimeout(consumer.exit, EXIT_TIMEOUT_MS, 'the consumer to exit'), { code: 0, signal: null }, consumer.output())
  })
})

const CONFIG_MISTAKES = [
  { name: 'producer', variable: 'WEBHOOK_TOKEN_TTL', value: 'soon' },
  { name: 'producer', variable: 'PORT', value: 'eighty' },
  { name: 'consumer', variable: 'WEBHOOK_JWKS_URL', value: 'ftp://127.0.0.1/jwks.json' }
] as const

for (const { name, variable, value } of CONFIG_MISTAKES) {
  t.test(`the ${name} example refuses ${variable}=${value}: it exits 1 with a message naming the variable`, async (t) => {
    const example = startExample(name, { PORT: String(await freePort()), [variable]: value, WEBHOOK_KEY_FILE: join(mkdtempSync(join(tmpdir(), 'webhook-jwt-examples-')), 'keys.json') })
    t.teardown(() => example.stop('SIGKILL'))
    const { code } = await withTimeout(example.exit, START_TIMEOUT_MS, `the ${name} example to exit`)
    t.equal(code, 1)
    const fatal = example.logs.find((line) => line.level === 60)
    t.match(fatal?.msg, new RegExp(`^${variable}\\b`), 'the message starts with the variable')
    t.notOk(example.logs.some((line) => line.msg?.startsWith('Server listening') === true), 'it never listened')
  })
}
