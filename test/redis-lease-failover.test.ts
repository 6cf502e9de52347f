import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import type { StoredKeySet } from '@webhook-jwt/producer'
import { deleteKeys, redisOrSkip, uniquePrefix } from './support/redis.ts'
import type { KeyStepReplicaConfig } from './support/key-step-replica.ts'

// The replica holding the step lease dies, or pauses past its lease, in the middle of a step (key generated,
// not stored): another replica completes the rotation, and the stalled step never lands.

const REPLICA = fileURLToPath(new URL('./support/key-step-replica.ts', import.meta.url))
const KEK = randomBytes(32).toString('base64url')
const LEASE_TTL = 1

const url = await redisOrSkip(t, 'Redis lease failover scenarios')
if (url !== null) {
  const { buildProducer, until } = await import('../packages/producer/test/helpers/producer-app.ts')
  const { redisKeyStore } = await import('@webhook-jwt/redis')
  const admin = new Redis(url)
  t.teardown(() => admin.quit())

  interface Replica {
    child: ChildProcess
    messages: Array<Record<string, unknown>>
  }

  const startReplica = (t: Test, config: KeyStepReplicaConfig): Replica => {
    const child = spawn(process.execPath, ['--conditions=@webhook-jwt/source', '--import', 'tsx', REPLICA, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
    t.teardown(() => { child.kill('SIGKILL') })
    const messages: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => messages.push(JSON.parse(line) as Record<string, unknown>))
    return { child, messages }
  }

  const setup = async (t: Test, mode: KeyStepReplicaConfig['mode']): Promise<{ survivor: Awaited<ReturnType<typeof buildProducer>>, replica: Replica, stalledKid: string, stored: () => Promise<StoredKeySet> }> => {
    const prefix = uniquePrefix('lease-failover')
    t.teardown(() => deleteKeys(url, prefix))
    // The survivor bootstraps the set; it rotates only when the test asks it to.
    const survivor = await buildProducer(t, {
      keyStore: redisKeyStore({ connection: url, prefix, leaseTtl: LEASE_TTL, maxStaleness: 1 }),
      keyEncryptionKey: KEK,
      tokenTtl: 1,
      clockSkew: 0,
      jwks: { maxAge: 1 },
      rotation: { every: false }
    })
    const first = survivor.app.webhooks.status().activeKid
    const replica = startReplica(t, { mode, redisUrl: url, prefix, keyEncryptionKey: KEK, leaseTtl: LEASE_TTL })
    await until(() => replica.messages.some((message) => 'writing' in message), 30_000)
    const writing = replica.messages.find((message) => 'writing' in message)?.writing as string[]
    t.equal(writing.length, 2, 'the stalled replica holds the lease with its new key generated')
    const stalledKid = writing.find((kid) => kid !== first) as string
    const stored = async (): Promise<StoredKeySet> => JSON.parse(await admin.get(`${prefix}set`) as string) as StoredKeySet
    return { survivor, replica, stalledKid, stored }
  }

  const checkCompleted = async (t: Test, survivor: Awaited<ReturnType<typeof setup>>['survivor'], stalledKid: string, set: StoredKeySet, first: string, second: string): Promise<void> => {
    t.same(set.keys.map((key) => [key.kid, key.state]).sort(), [[first, 'retired'], [second, 'active']].sort(), 'the rotation completed: the old key retired, the new one signs')
    t.notOk(set.keys.some((key) => key.kid === stalledKid), 'the stalled step never landed')
    for (const key of set.keys) {
      const states = key.transitions.map((step) => step.state)
      t.same(states, [...new Set(states)], `${key.kid.slice(0, 8)}: every step applied once`)
    }
    t.equal((await survivor.app.webhooks.sign({}, { audience: 'https://receiver.test/hooks' })).kid, second)
  }

  t.test('the lease holder is killed mid-step: the other replica completes the rotation once the lease lapses', async (t) => {
    const { survivor, replica, stalledKid, stored } = await setup(t, 'hang')
    const first = survivor.app.webhooks.status().activeKid
    replica.child.kill('SIGKILL')
    const result = await survivor.app.webhooks.rotate()
    t.equal(result.previousKid, first)
    await checkCompleted(t, survivor, stalledKid, await stored(), first, result.activeKid)
  })

  t.test('the lease holder pauses past its lease mid-step: its late write is fenced off, and it follows the rotation the other replica ran', async (t) => {
    const { survivor, replica, stalledKid, stored } = await setup(t, 'gate')
    const first = survivor.app.webhooks.status().activeKid
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL * 1000 + 200))
    const rotation = survivor.app.webhooks.rotate()
    await until(() => survivor.app.webhooks.status().rotationInProgress, 30_000)
    replica.child.stdin?.write('go\n')
    await until(() => replica.messages.some((message) => 'refused' in message), 30_000)
    t.match(replica.messages.find((message) => 'refused' in message), { refused: 'WEBHOOK_KEY_STORE_FENCED' })
    const result = await rotation
    await checkCompleted(t, survivor, stalledKid, await stored(), first, result.activeKid)
    await until(() => replica.messages.some((message) => 'rotated' in message), 30_000)
    t.match(replica.messages.find((message) => 'rotated' in message), { rotated: { previousKid: first, activeKid: result.activeKid } }, 'the paused replica\'s own rotate() settles on the rotation the other replica ran')
  })
}
