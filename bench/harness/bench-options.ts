import type { SigningAlgorithm } from '@webhook-jwt/protocol'

/** The parts of the benchmark that `--only` can pick. */
export const SECTIONS = ['receiving', 'sending', 'memory', 'cli'] as const
export type SectionName = typeof SECTIONS[number]

/** Receiving contenders are measured for each of these, in this order (ES256 is the protocol's default). */
export const ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'EdDSA', 'RS256']

/** A micro-benchmark's schedule: a warm-up, then `runs` timed runs whose median is reported. */
export interface MicroSchedule {
  warmupMs: number
  runMs: number
  runs: number
}

/** A load run's schedule against one fresh server process. */
export interface LoadSchedule {
  connections: number
  warmupSec: number
  runSec: number
  runs: number
}

export interface BenchSettings {
  mode: 'short' | 'full'
  sections: ReadonlySet<SectionName>
  /** `--cpu-prof`: receiving servers write V8 CPU profiles to bench/profiles/ (and run slower for it). */
  cpuProfile: boolean
  /** POST webhooks at the receivers. */
  receiving: LoadSchedule
  /** GET of the JWKS routes. */
  jwks: LoadSchedule
  micro: MicroSchedule
  /** Webhooks per delivery contender. */
  deliveries: number
  /** Requests per memory run (unknown kids, then distinct valid jtis). */
  memoryRequests: number
  /** Runs of each command whose start-up the cli section times. */
  cliRuns: number
}

const FULL: Omit<BenchSettings, 'sections' | 'cpuProfile'> = {
  mode: 'full',
  receiving: { connections: 50, warmupSec: 3, runSec: 10, runs: 3 },
  jwks: { connections: 50, warmupSec: 2, runSec: 3, runs: 3 },
  micro: { warmupMs: 500, runMs: 1500, runs: 3 },
  deliveries: 10_000,
  memoryRequests: 1_000_000,
  cliRuns: 31
}

// About a minute and a half on a 2-core machine: one 3 s run per contender, memory runs of 25,000 requests.
const SHORT: Omit<BenchSettings, 'sections' | 'cpuProfile'> = {
  mode: 'short',
  receiving: { connections: 50, warmupSec: 1, runSec: 3, runs: 1 },
  jwks: { connections: 50, warmupSec: 1, runSec: 2, runs: 1 },
  micro: { warmupMs: 150, runMs: 500, runs: 1 },
  deliveries: 1_000,
  memoryRequests: 25_000,
  cliRuns: 15
}

const USAGE = 'usage: pnpm bench [--short] [--only=receiving,sending,memory,cli] [--cpu-prof]'

/** Reads the command line: `--short`, `--only=<sections>` to run part of the benchmark, `--cpu-prof`. */
export function readBenchSettings (argv: readonly string[]): BenchSettings {
  let short = false
  let cpuProfile = false
  let sections: Set<SectionName> = new Set(SECTIONS)
  for (const arg of argv) {
    if (arg === '--short') {
      short = true
    } else if (arg === '--cpu-prof') {
      cpuProfile = true
    } else if (arg.startsWith('--only=')) {
      const names = arg.slice('--only='.length).split(',')
      const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name))
      if (unknown.length > 0 || names.length === 0) throw new TypeError(`--only takes ${SECTIONS.join(', ')}; got "${unknown.join(', ')}"\n${USAGE}`)
      sections = new Set(names as SectionName[])
    } else {
      throw new TypeError(`unknown argument "${arg}"\n${USAGE}`)
    }
  }
  return { ...(short ? SHORT : FULL), sections, cpuProfile }
}
