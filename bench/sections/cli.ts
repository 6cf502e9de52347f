import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { signWebhookToken } from '@webhook-jwt/protocol'
import type { BenchSettings } from '../harness/bench-options.ts'
import { median } from '../harness/median.ts'
import type { TestKey } from '../keys/test-keys.ts'

/** One command's start-up: the median wall time of its runs, and its ratio to `node -e 0`'s. */
export interface CliStartup {
  command: string
  medianMs: number
  /** The median over `node -e 0`'s median: what the command adds to Node's own start. */
  ratio: number
  /** Runs that did not exit 0: a command that fails measures its failure, and is flagged. */
  failures: number
}

export interface CliSection {
  runs: number
  nodeMs: number
  commands: CliStartup[]
}

const CLI_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url))
/** What an operator runs in a loop must start about as fast as Node itself. */
export const DECODE_TARGET_RATIO = 1.5

/** The wall time of one run, in ms, and whether it exited 0. */
function timeRun (args: readonly string[]): { ms: number, ok: boolean } {
  const started = performance.now()
  const run = spawnSync(process.execPath, args, { stdio: 'ignore' })
  return { ms: performance.now() - started, ok: run.status === 0 }
}

/**
 * The CLI's start-up, as an operator meets it: the wall time of `node packages/cli/dist/bin.js --version`,
 * `decode <token>` and `jwks <file>` against `node -e 0`'s, each run `settings.cliRuns` times, interleaved (one
 * of each in turn, so a busy moment of the machine weighs on all alike), one at a time.
 */
export async function runCliStartup (settings: BenchSettings, key: TestKey): Promise<CliSection> {
  const folder = mkdtempSync(join(tmpdir(), 'webhook-jwt-bench-cli-'))
  try {
    const keySet = join(folder, 'jwks.json')
    writeFileSync(keySet, JSON.stringify({ keys: [key.publishedJwk] }))
    const token = await signWebhookToken({ privateKey: key.privateKey, kid: key.kid, algorithm: key.algorithm, issuer: 'https://sender.bench', audience: 'https://receiver.bench/hooks', webhookId: 'wh_bench', body: Buffer.from('{}'), ttl: 300, nowMs: Date.now() })
    const lines: Array<[string, string[]]> = [
      ['node -e 0', ['-e', '0']],
      ['webhook-jwt --version', [CLI_BIN, '--version']],
      ['webhook-jwt decode <token>', [CLI_BIN, 'decode', token]],
      ['webhook-jwt jwks <file>', [CLI_BIN, 'jwks', keySet]]
    ]
    const times = lines.map((): number[] => [])
    const failures = lines.map(() => 0)
    // One unmeasured round: the first start reads every file from disk.
    for (const [, args] of lines) timeRun(args)
    for (let round = 0; round < settings.cliRuns; round++) {
      for (const [i, [, args]] of lines.entries()) {
        const { ms, ok } = timeRun(args)
        ;(times[i] as number[]).push(ms)
        if (!ok) failures[i] = (failures[i] as number) + 1
      }
    }
    const nodeMs = median(times[0] as number[])
    const commands = lines.slice(1).map(([command], index): CliStartup => {
      const medianMs = median(times[index + 1] as number[])
      return { command, medianMs, ratio: medianMs / nodeMs, failures: failures[index + 1] as number }
    })
    return { runs: settings.cliRuns, nodeMs, commands }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}
