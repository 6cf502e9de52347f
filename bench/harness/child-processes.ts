import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Every child still running, so that none outlives the harness, whatever ends it. */
const running = new Set<ChildProcess>()
/** How long a child may take to start listening (tsx compiles on the first start). */
const START_TIMEOUT_MS = 30_000
/** How long a child gets to close on SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 3_000

let cleanupInstalled = false

/** Kills every child on exit, Ctrl-C and SIGTERM included. Call once, from the entry point. */
export function killChildrenOnExit (): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL')
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} child process(es)\n`)
      // The exit handler kills them; 128 + signal number, as a shell reports it.
      process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129)
    })
  }
}

/** Messages a child sends on its IPC channel. */
export type ChildMessage =
  | { type: 'listening', port: number }
  | { type: 'result', result: unknown }
  | { type: 'failed', message: string }
  | { type: 'memory', rssBytes: number, heapUsedBytes: number }

/** Messages the harness sends to a server child. */
export type HarnessMessage = { type: 'measure-memory' }

/**
 * Starts `file` with the same flags for every contender: plain `node --import tsx`, no source condition,
 * so the packages run from their built dist. `config` reaches the child as the BENCH_CONFIG variable.
 */
function spawnChild (file: URL, config: unknown, extraNodeArgs: readonly string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...extraNodeArgs, '--import', 'tsx', fileURLToPath(file)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) }
  })
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

/** The first message of the awaited type, or the reason the child ended first. */
async function awaitMessage<T extends ChildMessage['type']> (child: ChildProcess, type: T, timeoutMs: number, what: string): Promise<Extract<ChildMessage, { type: T }>> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no "${type}" message within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (message: ChildMessage): void => {
      if (message.type === type) done(null, message as Extract<ChildMessage, { type: T }>)
      else if (message.type === 'failed') done(new Error(`${what} failed: ${message.message}`))
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => done(new Error(`${what} exited (${signal ?? code}) before its "${type}" message`))
    function done (error: Error | null, message?: Extract<ChildMessage, { type: T }>): void {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      if (error === null) resolve(message as Extract<ChildMessage, { type: T }>)
      else reject(error)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** A server child listening on 127.0.0.1. */
export interface ServerProcess {
  pid: number
  url: string
  /**
   * The server's own view of its memory: RSS, and the V8 heap in use, after a full garbage collection when
   * the server runs with `--expose-gc`, so that what is retained shows apart from garbage not yet collected.
   */
  measureMemory(): Promise<Extract<ChildMessage, { type: 'memory' }>>
  stop(): Promise<void>
}

/** Starts a server child and waits until it listens; it reports its port (it listens on port 0). */
export async function startServer (file: URL, config: unknown, extraNodeArgs: readonly string[] = []): Promise<ServerProcess> {
  const child = spawnChild(file, config, extraNodeArgs)
  try {
    const { port } = await awaitMessage(child, 'listening', START_TIMEOUT_MS, `server ${file.pathname}`)
    return {
      pid: child.pid as number,
      url: `http://127.0.0.1:${port}`,
      measureMemory: async () => {
        const answer = awaitMessage(child, 'memory', START_TIMEOUT_MS, `server ${file.pathname}`)
        child.send({ type: 'measure-memory' } satisfies HarnessMessage)
        return await answer
      },
      stop: async () => await stopChild(child)
    }
  } catch (error) {
    await stopChild(child)
    throw error
  }
}

/** Runs a task child (a micro-benchmark) to completion and returns the result it sends. */
export async function runTask<T> (file: URL, config: unknown, timeoutMs: number, extraNodeArgs: readonly string[] = []): Promise<T> {
  const child = spawnChild(file, config, extraNodeArgs)
  try {
    const { result } = await awaitMessage(child, 'result', timeoutMs, `task ${file.pathname}`)
    return result as T
  } finally {
    await stopChild(child)
  }
}
