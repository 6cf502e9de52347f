import { writeFile } from 'node:fs/promises'
import { readStoredKeys, type KeyStatus, type KeyStore, type KeyTransitionEvent } from '@webhook-jwt/producer'
import { CliError, EXIT, usageError, type ExitCode } from '../cli-error.ts'
import type { KeyStoreFlags, RotationFlags } from '../key-flags.ts'
import type { openProducer } from '../key-producer.ts'
import { openKeyStore, readKeyEncryptionKey, storeError } from '../key-store-target.ts'
import type { Output } from '../output.ts'
import type { CommandContext } from '../program.ts'
import { describeTime, isoTime } from '../relative-time.ts'
import { checkWindows, observedWindows } from '../rotation-windows.ts'
import { shortKid, timelineFromKeys } from '../timeline/key-timeline.ts'
import { terminalTimeline } from '../timeline/terminal-timeline.ts'
import { timelineSvg } from '../timeline/timeline-svg.ts'

/** The flags of `keys status`. */
export interface StatusOptions extends KeyStoreFlags { svg?: string }

/** The flags of the steps: `keys rotate`, `rollback`, `revoke`, `generate`. */
export interface StepOptions extends KeyStoreFlags, RotationFlags {
  keyEncryptionKeyFile?: string
  wait: boolean
  yes?: boolean
}

/** The producer, on an app that never listens, that a step runs on. */
type ProducerApp = Awaited<ReturnType<typeof openProducer>>

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
async function runStep (context: CommandContext<StepOptions>, name: string, step: (app: ProducerApp, transitions: KeyTransitionEvent[]) => Promise<unknown>, expectEmpty = false): Promise<ExitCode> {
  const { output, options, terminal } = context
  const keyEncryptionKey = await readKeyEncryptionKey(options.keyEncryptionKeyFile, terminal.env)
  // The producer plugin, and Fastify with it, only for a step: status reads the store alone.
  const { openProducer, plannedWindows } = await import('../key-producer.ts')
  const store = await openKeyStore(options)
  const transitions: KeyTransitionEvent[] = []
  let app: ProducerApp
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

/** `keys status`: the store's keys as a timeline and a list, and with `--svg` as a picture. */
export async function status ({ output, options }: CommandContext<StatusOptions>): Promise<ExitCode> {
  return await withStore(options, async (store) => {
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
  })
}

/** `keys rotate`: publishes a new key, then follows the rotation to its end unless `--no-wait`; Ctrl-C stops following. */
export async function rotate (context: CommandContext<StepOptions>): Promise<ExitCode> {
  return await runStep(context, 'rotate', async (app, transitions) => {
    const { output, options, terminal } = context
    const rotation = app.webhooks.rotate()
    if (options.wait) {
      output.note('Following the rotation until the old key is retired; Ctrl-C stops following, and the producers complete it.')
      let interrupt!: () => void
      const stop = new Promise<never>((_resolve, reject) => {
        interrupt = () => reject(new CliError('INTERRUPTED', 'stopped following the rotation; the producers complete it on their schedule (webhook-jwt keys status shows where it is)', EXIT.unavailable))
      })
      terminal.signals.once('SIGINT', interrupt)
      // The producer's step timers do not hold a process open (they are unref()ed); following the rotation does.
      const following = setInterval(() => {}, 60_000)
      try {
        return await Promise.race([rotation, stop])
      } finally {
        clearInterval(following)
        terminal.signals.off('SIGINT', interrupt)
      }
    }
    // Returns once the publish step is stored, or at once when a rotation was already running (it has published).
    while (transitions.length === 0 && !app.webhooks.status().rotationInProgress) await Promise.race([rotation, new Promise((resolve) => setTimeout(resolve, 50))])
    const next = app.webhooks.status().keys.find((key) => key.state === 'next')
    if (next?.next != null) output.note(`${next.kid} signs ${describeTime(next.next.at.getTime(), Date.now())}, when a producer switches to it; the old key retires rotation.retireAfter after that.`)
  })
}

/** `keys rollback`: undoes the latest rotation. */
export async function rollback (context: CommandContext<StepOptions>): Promise<ExitCode> {
  return await runStep(context, 'rollback', async (app) => { await app.webhooks.rollback() })
}

/** `keys revoke KID --yes`: unpublishes the key at once; without `--yes`, says what that would do. */
export async function revoke (context: CommandContext<StepOptions>, kid: string): Promise<ExitCode> {
  if (context.options.yes !== true) throw usageError(`revoking ${kid} unpublishes it at once: every token it signed that is still in flight will be refused as receivers refresh. Pass --yes to revoke it.`)
  return await runStep(context, 'revoke', async (app) => { await app.webhooks.revoke(kid) })
}

/** `keys generate`: the first key of an empty store. */
export async function generate (context: CommandContext<StepOptions>): Promise<ExitCode> {
  return await runStep(context, 'generate', async () => {}, true)
}
