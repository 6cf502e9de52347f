import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { fileKeyStore } from '@webhook-jwt/producer'
import { deliver, startReceiver, startSender, traffic } from './support/webhook-pair.ts'

// An operator rotates a running producer's keys from the terminal: `webhook-jwt keys rotate` on the key file
// the producer signs from, while webhooks flow to a consumer that caches the JWKS for its max-age. The
// command is the built CLI, run as a user runs it; the producer learns each step from the file.

const CLI_BIN = join(import.meta.dirname, '..', 'packages', 'cli', 'dist', 'bin.js')
// The producer's windows, compressed to seconds; the command is given the same ones, as the README says.
const WINDOWS = { tokenTtl: 2, clockSkew: 1, jwks: { maxAge: 2 }, rotation: { every: false as const } }
const FLAGS = ['--token-ttl', '2', '--clock-skew', '1', '--jwks-max-age', '2']

t.test('keys rotate on a running producer\'s key file: every webhook verifies across the switch', async (t) => {
  const keyFile = join(t.testdir(), 'signing-keys.json')
  const sender = await startSender(t, { keyStore: fileKeyStore({ path: keyFile }), ...WINDOWS })
  const receiver = await startReceiver(t, sender.jwksUrl, { clockTolerance: 1, jwks: { cacheMaxAge: 2 } })
  const oldKid = sender.app.webhooks.status().activeKid
  const transitions: string[] = []
  sender.app.webhooks.on('transition', (event) => transitions.push(`${event.kid === oldKid ? 'old' : 'new'} ${event.from ?? 'new'}→${event.to}`))

  let finished = false
  const flowing = traffic(async () => {
    const delivery = await deliver(sender.app, receiver.url)
    await new Promise((resolve) => setTimeout(resolve, 20))
    return delivery
  }, () => finished, 4)

  const child = spawn(process.execPath, [CLI_BIN, 'keys', 'rotate', '--store', keyFile, ...FLAGS, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await new Promise<[number | null]>((resolve) => child.on('close', (exitCode) => resolve([exitCode])))
  // Tokens signed just before the retirement are still checked on their way.
  await new Promise((resolve) => setTimeout(resolve, 500))
  finished = true
  const deliveries = await flowing

  t.equal(code, 0, stderr)
  const result = JSON.parse(stdout) as { rotationInProgress: boolean, activeKid: string, transitions: Array<{ kid: string, to: string }> }
  t.equal(result.rotationInProgress, false, 'the command followed the rotation to its end')
  const newKid = result.activeKid
  t.not(newKid, oldKid)
  t.equal(sender.app.webhooks.status().activeKid, newKid, 'the running producer signs with the new key')
  t.same(sender.app.webhooks.status().keys.map((key) => [key.kid, key.state]), [[oldKid, 'retired'], [newKid, 'active']])

  const failed = deliveries.filter((delivery) => delivery.status !== 200)
  t.same(failed, [], 'zero failed verifications')
  const byKid = (kid: string): number => deliveries.filter((delivery) => delivery.kid === kid).length
  t.ok(byKid(oldKid) > 10 && byKid(newKid) > 10, `verified under both keys (old ${byKid(oldKid)}, new ${byKid(newKid)})`)
  t.ok(deliveries.length > 50, `${deliveries.length} webhooks verified`)
  // Each step was stored once: by the command or by the producer, whichever came first.
  const stored = [...result.transitions.map((event) => `${event.kid === oldKid ? 'old' : 'new'} ${event.to}`), ...transitions.map((line) => line.replace(/ \S+→/, ' '))]
  t.same([...new Set(stored)].sort(), ['new active', 'new next', 'old retired', 'old retiring'])
  t.equal(stored.length, 4, 'no step was applied twice')
})
