import type { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'

/** What the command runs against: the process's streams, environment and signals, or a test's. */
export interface Terminal {
  stdout: Writable & { isTTY?: boolean, columns?: number }
  stderr: Writable & { isTTY?: boolean }
  stdin: Readable
  env: Record<string, string | undefined>
  /** Where Ctrl-C comes from (`SIGINT`): `process` for the command, an emitter of a test's own in-process. */
  signals: EventEmitter
}

/** The few styles the output uses; each has a plain-text meaning too, so nothing depends on colour. */
export type Tone = 'pass' | 'fail' | 'warn' | 'dim' | 'bold'

const ANSI: Record<Tone, [number, number]> = { pass: [32, 39], fail: [31, 39], warn: [33, 39], dim: [2, 22], bold: [1, 22] }

/**
 * Colour only on a terminal, never with `--no-color` or `NO_COLOR` (no-color.org); `FORCE_COLOR` turns it
 * on for a pipe, as in Node's own tools.
 */
export function colourWanted (stream: { isTTY?: boolean }, env: Terminal['env'], requested: boolean): boolean {
  if (!requested || (env.NO_COLOR ?? '') !== '') return false
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false'
  return stream.isTTY === true && env.TERM !== 'dumb'
}

/** Where a command writes: text lines, or one JSON document with `--json`. */
export class Output {
  readonly json: boolean
  readonly colour: boolean
  readonly #terminal: Terminal

  constructor (terminal: Terminal, options: { json: boolean, color: boolean }) {
    this.#terminal = terminal
    this.json = options.json
    this.colour = !options.json && colourWanted(terminal.stdout, terminal.env, options.color)
  }

  /** Columns of the terminal, or 100 in a pipe. */
  get width (): number {
    return this.#terminal.stdout.columns ?? 100
  }

  paint (tone: Tone, text: string): string {
    if (!this.colour) return text
    const [open, close] = ANSI[tone]
    return `\u001b[${open}m${text}\u001b[${close}m`
  }

  /** A line of the text output; nothing is written in `--json` mode, where `result` says it all. */
  line (text = ''): void {
    if (!this.json) this.#terminal.stdout.write(`${text}\n`)
  }

  /** The JSON document, in `--json` mode. */
  result (value: unknown): void {
    if (this.json) this.#terminal.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** A failure: on stderr as text, or as `{ "error": { code, message } }` on stdout with `--json`, so scripts read one stream. */
  error (code: string, message: string): void {
    if (this.json) this.#terminal.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`)
    else this.#terminal.stderr.write(`${colourWanted(this.#terminal.stderr, this.#terminal.env, true) ? '\u001b[31merror\u001b[39m' : 'error'}: ${message}\n`)
  }

  /** Progress and notes for the operator, on stderr so they never mix with what a script reads. */
  note (text: string): void {
    this.#terminal.stderr.write(`${text}\n`)
  }
}
