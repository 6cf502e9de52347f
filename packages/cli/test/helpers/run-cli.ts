import { spawn } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { main } from '../../src/main.ts'

// Runs the command as the tests need it (not a test file: tap runs only *.test.ts). In this process, through the
// command's own entry, as bin.ts does with the process's streams; or as a child process of the built bin.

/** The built command, as installed: `webhook-jwt` is this file with Node. */
export const CLI_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url))

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliRunOptions {
  /** Standard input's content, or a stream; none (ended at once) by default. */
  input?: string | Readable
  /** The whole environment the command sees: no NO_COLOR, FORCE_COLOR or TERM unless given here. */
  env?: Record<string, string>
  /** Standard output (and error) is a terminal, as on an operator's shell; a pipe by default. */
  isTTY?: boolean
  /** The terminal's width, for standard output. */
  columns?: number
  /** Ctrl-C: a `SIGINT` is sent once standard output shows this. */
  interruptWhen?: string
}

type Collecting = Writable & { isTTY?: boolean, columns?: number, text: () => string }

/** A stream that keeps what is written to it, and calls `onWrite` with all of it after each write. */
function collecting (options: CliRunOptions, onWrite: (text: string) => void = () => {}): Collecting {
  let text = ''
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8')
      onWrite(text)
      callback()
    }
  }) as Collecting
  if (options.isTTY === true) stream.isTTY = true
  if (options.columns !== undefined) stream.columns = options.columns
  stream.text = () => text
  return stream
}

/**
 * Runs `webhook-jwt …args` in this process through `main`, with standard input, output and error as streams of
 * its own and the environment given, and resolves its exit code and output: what a user of the command sees.
 */
export async function runCli (args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const signals = new EventEmitter()
  let interrupted = false
  const stdout = collecting(options, (text) => {
    if (options.interruptWhen === undefined || interrupted || !text.includes(options.interruptWhen)) return
    interrupted = true
    // After the write returns, as a signal arrives between two steps of the command.
    setImmediate(() => signals.emit('SIGINT', 'SIGINT'))
  })
  const stderr = collecting(options)
  const input = options.input ?? ''
  const stdin = typeof input === 'string' ? Readable.from(input === '' ? [] : [Buffer.from(input)]) : input
  const code = await main(args, { stdout, stderr, stdin, env: { ...options.env }, signals })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

/** Runs the built `webhook-jwt …args` as a child process, as a user would, and resolves its exit code and output. */
export async function runBuiltCli (args: readonly string[], options: { input?: string, env?: Record<string, string> } = {}): Promise<CliRun> {
  return await runCommand(process.execPath, [CLI_BIN, ...args], options.env, options.input)
}

/** Runs any command with the test runner's environment, less its colour settings, plus `extraEnv`. */
export async function runCommand (file: string, args: readonly string[], extraEnv: Record<string, string> = {}, input = ''): Promise<CliRun> {
  const env: Record<string, string> = {}
  // Coverage and tap's process tracking travel in the environment; colour settings must not leak in.
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !['NO_COLOR', 'FORCE_COLOR', 'TERM', 'CI'].includes(name)) env[name] = value
  }
  const child = spawn(file, args, { env: { ...env, ...extraEnv }, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  child.stdin.end(input)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode) => resolve(exitCode))
  })
  return { code, stdout, stderr }
}

/** The `--json` document a run printed. */
export function jsonOf (run: CliRun): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>
}
