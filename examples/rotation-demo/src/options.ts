import { parseArgs } from 'node:util'

export interface DemoOptions {
  /** How long traffic flows, in seconds. */
  durationSec: number
  /** Legitimate deliveries per second. */
  rate: number
  /** Where the timeline picture and page go; `null`: a new temporary folder. */
  outDir: string | null
}

export const DEFAULT_DURATION_SEC = 30
export const DEFAULT_RATE = 50
/**
 * Three scheduled rotations take 3 × 6 s plus the last retirement (4.5 s) after the first key's 1.5 s head
 * start, and the revoke scenario needs the last 4 s: anything shorter would not show three rotations.
 */
export const MIN_DURATION_SEC = 28
export const MAX_RATE = 1000

export const USAGE = `usage: pnpm demo [--duration seconds (default ${DEFAULT_DURATION_SEC}, at least ${MIN_DURATION_SEC})] [--rate deliveries-per-second (default ${DEFAULT_RATE}, at most ${MAX_RATE})] [--out folder]`

export class DemoUsageError extends Error {
  constructor (message: string) {
    super(`${message}\n${USAGE}`)
    this.name = 'DemoUsageError'
  }
}

/** Reads the demo's command line. `pnpm demo -- --rate 100` passes the `--` through, so it is dropped. */
export function parseDemoOptions (argv: readonly string[]): DemoOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: argv.filter((arg) => arg !== '--'),
      options: { duration: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' } }
    }))
  } catch (error) {
    throw new DemoUsageError((error as Error).message)
  }
  const durationSec = Number(values.duration ?? DEFAULT_DURATION_SEC)
  const rate = Number(values.rate ?? DEFAULT_RATE)
  if (!(durationSec >= MIN_DURATION_SEC && durationSec <= 3600)) throw new DemoUsageError(`--duration must be between ${MIN_DURATION_SEC} and 3600 seconds, got ${values.duration}`)
  if (!(rate > 0 && rate <= MAX_RATE)) throw new DemoUsageError(`--rate must be above 0 and at most ${MAX_RATE}, got ${values.rate}`)
  return { durationSec, rate, outDir: values.out ?? null }
}
