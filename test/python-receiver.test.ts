import { execFile, spawn, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { memoryKeyStore, type DeliveryOutcomeEvent } from '@webhook-jwt/producer'
import { VECTORS_PATH } from '../docs/conformance/generate.ts'
import { AUDIENCE, ISSUER, startSender } from './support/webhook-pair.ts'
import { vectors } from './support/conformance.ts'

// examples/python-receiver, a receiver written from docs/protocol.md outside Node, run with Debian's Python:
// it passes every conformance vector, a copy of it with one check removed fails some (so the vectors can
// fail), and it verifies real deliveries from our producer over loopback, across a key rotation.

const PYTHON = '/usr/bin/python3'
const EXAMPLE = new URL('../examples/python-receiver/', import.meta.url).pathname
const requests = vectors.cases.reduce((sum, vector) => sum + vector.requests.length, 0)
// The receiver's JWKS fetch goes to loopback: no proxy of the environment may stand in between; and no
// bytecode files are left in the example's folder.
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(https?|all|no)_proxy$/i.test(name))), PYTHONDONTWRITEBYTECODE: '1' }

const missing = spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { encoding: 'utf8' }).status !== 0
if (missing) {
  const why = `${PYTHON} cannot import jwt and cryptography: apt-get install python3-jwt python3-cryptography (.ci/run does)`
  // In CI a missing interpreter or module is a failure, never a skip.
  if (process.env.CI === 'true') t.fail(why)
  else t.comment(`SKIPPED, loudly: ${why}`)
}
const skip = missing ? 'python3-jwt or python3-cryptography is not installed' : false

// The checks and the deliveries are independent, and the rotation mostly waits on the clock: side by side.
t.jobs = 4

async function checkVectors (directory: string): Promise<{ status: number | null, output: string }> {
  return await new Promise((resolve) => {
    execFile(PYTHON, [join(directory, 'check_vectors.py'), VECTORS_PATH], { encoding: 'utf8', env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : (error.code as number | null), output: stdout + stderr })
    })
  })
}

t.test('the Python receiver passes every vector', { skip }, async (t) => {
  const { status, output } = await checkVectors(EXAMPLE)
  t.equal(status, 0, output)
  t.match(output, new RegExp(`^${requests} passed, 0 failed$`, 'm'), `all ${requests} requests of the ${vectors.cases.length} cases`)
})

// Each mutant removes one check from a copy of receiver.py, by patching one line, and must fail the vectors
// that exercise it.
const MUTANTS = [
  { check: 'typ', line: "(lambda: header.get('typ') not in TYPES, 'WEBHOOK_TOKEN_TYPE_INVALID'),", fails: 'type/jwt' },
  { check: 'canonical base64url', line: 'if b64url(data) != segment:', fails: 'format/trailing-bits-in-header' },
  { check: 'the key\'s algorithms', line: "valid = header['alg'] in key_algorithms and ", fails: 'signature/es384-with-p256-key' },
  { check: 'the replay check', line: 'if not first:', fails: 'replay/same-request-twice' },
  { check: 'the lifetime cap', line: "(lambda: exp - iat > self.max_age, 'WEBHOOK_TOKEN_LIFETIME_TOO_LONG'),", fails: 'times/lifetime-over-cap' }
]
for (const mutant of MUTANTS) {
  t.test(`a copy of the receiver without ${mutant.check} fails the vectors`, { skip }, async (t) => {
    const copy = mkdtempSync(join(tmpdir(), 'webhook-jwt-python-mutant-'))
    cpSync(EXAMPLE, copy, { recursive: true, filter: (source) => !source.includes('__pycache__') })
    const source = readFileSync(join(copy, 'receiver.py'), 'utf8')
    t.equal(source.split(mutant.line).length, 2, 'the line to patch is in receiver.py, once')
    const removed = mutant.line.startsWith('(lambda') ? '' : mutant.line.startsWith('if ') ? 'if False:' : 'valid = '
    writeFileSync(join(copy, 'receiver.py'), source.replace(mutant.line, removed))
    const { status, output } = await checkVectors(copy)
    t.equal(status, 1, 'check_vectors exits 1')
    t.match(output, new RegExp(`^FAIL ${mutant.fails} #`, 'm'), `${mutant.fails} fails`)
    t.notMatch(output, / 0 failed$/m)
  })
}

interface PythonReceiver { url: URL }

/** The example receiver as a user runs it, on a free loopback port, stopped when the test ends. */
async function startPythonReceiver (t: Test, jwksUrl: URL): Promise<PythonReceiver> {
  const child = spawn(PYTHON, [join(EXAMPLE, 'receiver.py'), '--issuer', ISSUER, '--jwks-url', jwksUrl.href, '--audience', AUDIENCE, '--port', '0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  const lines = createInterface({ input: child.stdout })
  for await (const line of lines) {
    const listening = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line)
    if (listening !== null) return { url: new URL('/hooks', listening[1]) }
  }
  throw new Error('the Python receiver exited before it listened')
}

// Windows of seconds (max-age 1 s, token lifetime 2 s, skew 0.5 s), so that a rotation takes about 4 s.
const WINDOWS = { tokenTtl: 2, clockSkew: 0.5, jwks: { maxAge: 1 }, rotation: { every: false as const } }
// deliver() with no retries, so a refusal shows at once; loopback allowed explicitly, since the SSRF guard
// refuses it by default.
const LOOPBACK_DELIVERY = { retry: { schedule: [] }, allowedNetworks: ['127.0.0.0/8', '::1/128'] }

async function post (url: URL, signed: { headers: Record<string, string>, body: Buffer }, body: Buffer = signed.body): Promise<{ status: number, answer: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body })
  return { status: response.status, answer: await response.json() as Record<string, unknown> }
}

t.test('the Python receiver verifies real deliveries from the producer', { skip }, async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore(), delivery: LOOPBACK_DELIVERY })
  const receiver = await startPythonReceiver(t, sender.jwksUrl)

  const signed = await sender.app.webhooks.sign({ type: 'invoice.paid', customer: 'Zoë Ångström' }, { audience: AUDIENCE })
  const first = await post(receiver.url, signed)
  t.equal(first.status, 200, 'a signed delivery is accepted')
  t.match(first.answer, { id: signed.id, kid: signed.kid, claims: { iss: ISSUER, aud: AUDIENCE, webhook_id: signed.id } })
  t.match(await post(receiver.url, signed), { status: 401, answer: { code: 'WEBHOOK_REPLAYED' } }, 'the same delivery again is a replay')
  const resigned = await sender.app.webhooks.sign({ type: 'invoice.paid' }, { audience: AUDIENCE })
  t.match(await post(receiver.url, resigned, Buffer.from('{"type":"invoice.refunded"}')), { status: 401, answer: { code: 'WEBHOOK_BODY_DIGEST_MISMATCH' } }, 'a body changed after signing is refused')

  const outcomes: DeliveryOutcomeEvent[] = []
  sender.app.webhooks.on('outcome', (event) => outcomes.push(event))
  const { id } = await sender.app.webhooks.deliver(receiver.url.href, { type: 'invoice.paid' }, { audience: AUDIENCE })
  while (outcomes.length === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  t.match(outcomes, [{ id, outcome: 'delivered', status: 200 }], 'app.webhooks.deliver() to it is delivered')
})

t.test('the Python receiver keeps verifying across a key rotation', { skip }, async (t) => {
  const sender = await startSender(t, { ...WINDOWS, keyStore: memoryKeyStore() })
  const receiver = await startPythonReceiver(t, sender.jwksUrl)
  const rotating = { done: false }
  const rotation = sender.app.webhooks.rotate().finally(() => { rotating.done = true })
  const answers: Array<{ status: number, kid: string }> = []
  while (!rotating.done || answers.length < 20) {
    const signed = await sender.app.webhooks.sign({ type: 'ping', n: answers.length }, { audience: AUDIENCE })
    answers.push({ status: (await post(receiver.url, signed)).status, kid: signed.kid })
    await new Promise((resolve) => setTimeout(resolve, 40))
  }
  const { previousKid, activeKid } = await rotation
  t.same(answers.filter((answer) => answer.status !== 200), [], `all ${answers.length} deliveries verified`)
  t.ok(answers.some((answer) => answer.kid === previousKid) && answers.some((answer) => answer.kid === activeKid), 'signed by the old key, then the new one')
})
