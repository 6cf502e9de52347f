import { writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { readStoredKeys, type KeyStatus, type KeyStore, type KeyTransitionEvent } from '@webhook-jwt/producer'
import { CliError, EXIT, usageError, type ExitCode } from '../cli-error.ts'
import { ROTATION_FLAGS, openProducer, plannedWindows, type RotationFlags } from '../key-producer.ts'
import { STORE_FLAGS, openKeyStore, readKeyEncryptionKey, storeError, type KeyStoreFlags } from '../key-store-target.ts'
import type { Output } from '../output.ts'
import type { ActionRunner, CommandContext, CommandDefinition } from '../program.ts'
import { describeTime, isoTime } from '../relative-time.ts'
import { checkWindows, observedWindows } from '../rotation-windows.ts'
import { shortKid, timelineFromKeys } from '../timeline/key-timeline.ts'
import { terminalTimeline } from '../timeline/terminal-timeline.ts'
import { timelineSvg } from '../timeline/timeline-svg.ts'

interface StatusOptions extends KeyStoreFlags { svg?: string }
interface StepOptions extends KeyStoreFlags, RotationFlags {
  keyEncryptionKeyFile?: string
  wait: boolean
  yes?: boolean
}

const FLAGS = { ...STORE_FLAGS, ...ROTATION_FLAGS }

function storeOptions (command: Command): Command {
  return command
    .requiredOption('--store <path | redis-url>', 'the producers\' key store: a key file path, or redis://host:port[/db]')
    .option('--prefix <prefix>', 'Redis store: the key prefix the producers use (default webhook-jwt:{signing-keys}:)')
    .option('--max-staleness <duration>', 'Redis store: the producers\' maxStaleness (default 30s)')
    .option('--timeout <duration>', 'Redis store: deadline of each command', '5s')
}

function rotationOptions (command: Command): Command {
  return storeOptions(command)
    .option('--key-encryption-key-file <path>', 'file holding the key-encryption key (or set WEBHOOK_JWT_KEY_ENCRYPTION_KEY); required for a Redis store')
    .option('--algorithm <alg>', 'algorithm of keys generated: ES256, EdDSA, ES384, RS256, PS256 (default ES256)')
    .option('--rsa-bits <bits>', 'RSA modulus length of keys generated (default 2048)')
    .option('--token-ttl <duration>', 'the producers\' tokenTtl (default 5m)')
    .option('--clock-skew <duration>', 'the producers\' clockSkew (default 30s)')
    .option('--jwks-max-age <duration>', 'the producers\' jwks.maxAge (default 10m)')
    .option('--publish-lead <duration>', 'the producers\' rotation.publishLead (default jwks max-age + clock skew [+ max staleness])')
    .option('--retire-after <duration>', 'the producers\' rotation.retireAfter (default token TTL + clock skew [+ max staleness])')
}

/** The keys as JSON: ISO times, as stored. */
function keysJson (keys: readonly KeyStatus[]): unknown[] {
  return keys.map((key) => ({
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    transitions: key.transitions.map((step) => ({ state: step.state, at: step.at.toISOString(), reason: step.reason })),
    next: key.next === null ? null : { state: key.next.state, at: key.next.at.toISOString() }
  }))
}

function printKeys (output: Output, keys: readonly KeyStatus[], nowMs: number): void {
  const timeline = timelineFromKeys(keys, nowMs)
  for (const line of terminalTimeline(timeline, { width: Math.max(20, Math.min(output.width, 160) - 44), colour: output.colour })) output.line(line)
  output.line()
  for (const key of keys) {
    const since = key.transitions.at(-1)
    const next = key.next === null ? '' : `, ${key.next.state} ${describeTime(key.next.at.getTime(), nowMs)}`
    output.line(`  ${key.kid}  ${key.alg}  ${output.paint(key.state === 'active' ? 'pass' : 'dim', key.state)}${since === undefined ? '' : ` since ${describeTime(since.at.getTime(), nowMs)} (${since.reason})`}${next}`)
  }
}

function transitionLine (event: KeyTransitionEvent): string {
  const next = event.next === null ? '' : `; ${event.next.state} at ${isoTime(event.next.at.getTime())}`
  return `${isoTime(event.at.getTime())}  ${shortKid(event.kid)} ${event.from ?? 'new'} → ${event.to} (${event.reason})${next}`
}

function emptyStore (store: KeyStore): CliError {
  return new CliError('KEY_STORE_EMPTY', `the key store ${store.description} holds no keys yet: webhook-jwt keys generate --store … creates the first`, EXIT.no)
}

/** Reads the store, or explains that it is empty. */
async function storedKeys (store: KeyStore): Promise<{ revision: number, keys: KeyStatus[] }> {
  const stored = await readStoredKeys(store).catch((error: unknown) => { throw storeError(error) })
  if (stored === null) throw emptyStore(store)
  return stored
}

async function withStore<T> (flags: KeyStoreFlags, use: (store: KeyStore) => Promise<T>): Promise<T> {
  const store = await openKeyStore(flags)
  try {
    return await use(store)
  } finally {
    await store.close?.()
  }
}

/**
 * Runs one step through the producer plugin on the store and reports it: what the step stored, and the key
 * set after it. `step` resolves once the step is stored; transitions are printed as they land.
 */
async function runStep (context: CommandContext<StepOptions>, name: string, step: (app: Awaited<ReturnType<typeof openProducer>>, transitions: KeyTransitionEvent[]) => Promise<unknown>, expectEmpty = false): Promise<ExitCode> {
  const { output, options, terminal } = context
  const keyEncryptionKey = await readKeyEncryptionKey(options.keyEncryptionKeyFile, terminal.env)
  const store = await openKeyStore(options)
  const transitions: KeyTransitionEvent[] = []
  let app: Awaited<ReturnType<typeof openProducer>>
  // Until the producer holds the store, the store is this function's to close (closing twice is harmless).
  try {
    const stored = await readStoredKeys(store).catch((error: unknown) => { throw storeError(error) })
    if (expectEmpty !== (stored === null)) {
      throw stored === null
        ? emptyStore(store)
        : new CliError('KEY_STORE_NOT_EMPTY', `the key store ${store.description} already holds keys (revision ${stored.revision}): use webhook-jwt keys rotate to add one`, EXIT.no)
    }
    if (stored !== null && name === 'rotate') {
      checkWindows(observedWindows(stored.keys), plannedWindows(options, store), { publishLead: options.publishLead !== undefined, retireAfter: options.retireAfter !== undefined })
    }
    app = await openProducer(store, options, keyEncryptionKey, (event) => {
      transitions.push(event)
      output.line(transitionLine(event))
    })
  } catch (error) {
    await store.close?.()
    throw error
  }
  try {
    await step(app, transitions)
    const status = app.webhooks.status()
    output.result({ step: name, store: store.description, activeKid: status.activeKid, rotationInProgress: status.rotationInProgress, transitions: transitions.map((event) => ({ ...event, at: event.at.toISOString(), next: event.next === null ? null : { state: event.next.state, at: event.next.at.toISOString() } })), keys: keysJson(status.keys) })
    output.line()
    printKeys(output, status.keys, Date.now())
  } catch (error) {
    throw storeError(error)
  } finally {
    await app.close()
  }
  return EXIT.ok
}

function statusCommand (keys: Command, run: ActionRunner): void {
  storeOptions(keys.command('status'))
    .description('Show the keys of a producer key store as a timeline: one lane per kid (next, active, retiring, retired) with the times of each step, done and scheduled. Reads the store only; no key-encryption key is needed.')
    .option('--svg <file>', 'also write the timeline as an SVG picture, the same as the rotation demo\'s')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys status --store /var/lib/sender/webhook-keys.json --svg keys.svg\n  $ webhook-jwt keys status --store redis://127.0.0.1:6379 --json')
    .action(run<[], StatusOptions>(async ({ output, options }) => await withStore(options, async (store) => {
      const { revision, keys } = await storedKeys(store)
      const nowMs = Date.now()
      if (options.svg !== undefined) {
        const svg = options.svg
        await writeFile(svg, timelineSvg(timelineFromKeys(keys, nowMs))).catch((error: unknown) => {
          throw new CliError('FILE_UNWRITABLE', `cannot write the picture to ${svg}: ${(error as NodeJS.ErrnoException).code as string}`)
        })
      }
      const active = keys.find((key) => key.state === 'active')
      output.result({ store: store.description, revision, activeKid: active?.kid ?? null, rotationInProgress: keys.some((key) => key.state === 'next' || key.state === 'retiring'), keys: keysJson(keys), ...(options.svg === undefined ? {} : { svg: options.svg }) })
      output.line(`Key store ${store.description}, revision ${revision}`)
      printKeys(output, keys, nowMs)
      if (options.svg !== undefined) output.line(`\nTimeline picture: ${options.svg}`)
      return EXIT.ok
    }), FLAGS))
}

function rotateCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('rotate'))
    .description('Rotate the signing key as the producers do: publish a new key now, switch signing to it after --publish-lead, retire the old key after --retire-after. By default the command stays and follows the rotation to its end, applying the steps that fall due like a producer replica (with the running producers, whichever comes first applies each step once). With --no-wait it returns once the new key is published; the producers apply the rest on their schedule. The rotation flags must match the producers\' settings.')
    .option('--no-wait', 'return once the new key is published, leaving the switch and the retirement to the producers')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys rotate --store /var/lib/sender/webhook-keys.json --jwks-max-age 10m --token-ttl 5m\n  $ WEBHOOK_JWT_KEY_ENCRYPTION_KEY=… webhook-jwt keys rotate --store redis://127.0.0.1:6379 --no-wait')
    .action(run<[], StepOptions>(async (context) => await runStep(context, 'rotate', async (app, transitions) => {
      const { output, options } = context
      const rotation = app.webhooks.rotate()
      if (options.wait) {
        output.note('Following the rotation until the old key is retired; Ctrl-C stops following, and the producers complete it.')
        let interrupt!: () => void
        const stop = new Promise<never>((_resolve, reject) => {
          interrupt = () => reject(new CliError('INTERRUPTED', 'stopped following the rotation; the producers complete it on their schedule (webhook-jwt keys status shows where it is)', EXIT.unavailable))
        })
        process.once('SIGINT', interrupt)
        // The producer's step timers do not hold a process open (they are unref()ed); following the rotation does.
        const following = setInterval(() => {}, 60_000)
        try {
          return await Promise.race([rotation, stop])
        } finally {
          clearInterval(following)
          process.off('SIGINT', interrupt)
        }
      }
      // Returns once the publish step is stored, or at once when a rotation was already running (it has published).
      while (transitions.length === 0 && !app.webhooks.status().rotationInProgress) await Promise.race([rotation, new Promise((resolve) => setTimeout(resolve, 50))])
      const next = app.webhooks.status().keys.find((key) => key.state === 'next')
      if (next?.next != null) output.note(`${next.kid} signs ${describeTime(next.next.at.getTime(), Date.now())}, when a producer switches to it; the old key retires rotation.retireAfter after that.`)
    }), FLAGS))
}

function rollbackCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('rollback'))
    .description('Undo the latest rotation while the previous key is still published: before the switch, the new key is withdrawn at once; after it, the previous key signs again and the newer one retires after --retire-after.')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys rollback --store /var/lib/sender/webhook-keys.json')
    .action(run<[], StepOptions>(async (context) => await runStep(context, 'rollback', async (app) => { await app.webhooks.rollback() }), FLAGS))
}

function revokeCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('revoke'))
    .description('Unpublish a compromised key at once. Tokens it signed stop verifying as soon as receivers refresh their key set: that is the point. Revoking the signing key hands signing to the key receivers already trust if there is one, else to a new key. Asks for --yes.')
    .argument('<kid>', 'the kid to revoke (webhook-jwt keys status lists them)')
    .option('--yes', 'revoke: tokens signed by this key in flight will be refused')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys revoke 3Dn1fDbN… --store /var/lib/sender/webhook-keys.json --yes')
    .action(run<[string], StepOptions>(async (context, kid) => {
      if (context.options.yes !== true) throw usageError(`revoking ${kid} unpublishes it at once: every token it signed that is still in flight will be refused as receivers refresh. Pass --yes to revoke it.`)
      return await runStep(context, 'revoke', async (app) => { await app.webhooks.revoke(kid) })
    }, FLAGS))
}

function generateCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('generate'))
    .description('Create the first signing key in an empty key store, as a producer does when it first starts: it signs at once. For a store that already holds keys, use rotate.')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys generate --store /var/lib/sender/webhook-keys.json --algorithm EdDSA')
    .action(run<[], StepOptions>(async (context) => await runStep(context, 'generate', async () => {}, true), FLAGS))
}

/** `webhook-jwt keys <status | rotate | rollback | revoke KID | generate> --store <file | redis URL>`. */
export const keysCommand: CommandDefinition = (program, run) => {
  const keys = program.command('keys')
    .summary('operate a producer key store: status, rotate, rollback, revoke, generate')
    .description('Operate the key store of webhook-jwt producers, with the producer\'s own code: a key file, or a Redis store (redis:// URL) shared by replicas.')
  statusCommand(keys, run)
  rotateCommand(keys, run)
  rollbackCommand(keys, run)
  revokeCommand(keys, run)
  generateCommand(keys, run)
}
