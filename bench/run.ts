// pnpm bench [--short] [--only=receiving,sending,memory,cli]: see bench/README.md.
import { writeFileSync } from 'node:fs'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { ALGORITHMS, readBenchSettings } from './harness/bench-options.ts'
import { ensureBuiltPackages } from './harness/built-packages.ts'
import { killChildrenOnExit, runTask } from './harness/child-processes.ts'
import { loadAverage, machineInfo } from './harness/machine.ts'
import { startJwksServer } from './keys/jwks-server.ts'
import { generateTestKey, type TestKey } from './keys/test-keys.ts'
import type { OpsMeasure } from './micro/measure-ops.ts'
import type { VerifyFloorConfig } from './micro/verify-floor.ts'
import type { BenchResults } from './report/bench-results.ts'
import { resultsChart } from './report/results-chart.ts'
import { resultsMarkdown } from './report/results-markdown.ts'
import { formatTable, resultRows } from './report/results-table.ts'
import { checkTargets, verdict } from './report/targets.ts'
import { runCliStartup } from './sections/cli.ts'
import { runMemory } from './sections/memory.ts'
import { PROFILE_DIR, runReceiving } from './sections/receiving.ts'
import { runSending } from './sections/sending.ts'
import { TokenSigners } from './tokens/token-signers.ts'

const ROOT = new URL('../', import.meta.url)
const VERIFY_FLOOR = new URL('./micro/verify-floor.ts', import.meta.url)

const started = performance.now()

/** Progress goes to stderr, with the seconds since the start; the table goes to stdout. */
function log (line: string): void {
  process.stderr.write(`[${Math.round((performance.now() - started) / 1000).toString().padStart(4)} s] ${line}\n`)
}

async function main (): Promise<void> {
  killChildrenOnExit()
  const settings = readBenchSettings(process.argv.slice(2))
  ensureBuiltPackages(ROOT, log)
  const startedAt = new Date()
  const loadBefore = loadAverage()
  if (settings.cpuProfile) log(`--cpu-prof: receiving servers write CPU profiles to ${PROFILE_DIR}; profiling slows them, so compare no figure of this run with another's`)
  log(`pnpm bench, ${settings.mode} mode; load average ${loadBefore.join(' / ')}${loadBefore[0] > 0.7 ? ' (the machine is busy: figures will be noisy)' : ''}`)

  const keys = new Map<SigningAlgorithm, TestKey>()
  for (const algorithm of ALGORITHMS) keys.set(algorithm, await generateTestKey(algorithm))
  const jwks = await startJwksServer([...keys.values()].map((key) => key.publishedJwk))
  const signers = new TokenSigners()
  const results: BenchResults = {
    machine: machineInfo(ROOT),
    settings: { ...settings, sections: [...settings.sections] },
    startedAt,
    elapsedSec: 0,
    loadBefore,
    loadAfter: loadBefore,
    receiving: null,
    sending: null,
    memory: null,
    cli: null
  }
  try {
    if (settings.sections.has('receiving')) {
      log('receiving: crypto.verify floor')
      const verifyFloors = await runTask<Record<string, OpsMeasure>>(VERIFY_FLOOR, { algorithms: [...ALGORITHMS], schedule: settings.micro } satisfies VerifyFloorConfig, 120_000)
      log('receiving: contenders (a) bare route, (b) jose preHandler, (c) @fastify/jwt + get-jwks, (d) @webhook-jwt/consumer')
      results.receiving = { ...await runReceiving(settings, keys, jwks, signers, log), verifyFloors }
    }
    if (settings.sections.has('sending')) {
      log('sending: app.webhooks.sign vs jose, JWKS route vs static, deliver vs sign + fetch')
      results.sending = await runSending(settings, log)
    }
    if (settings.sections.has('memory')) {
      log(`memory: ${settings.memoryRequests.toLocaleString('en')} unknown kids, then as many distinct jtis${settings.mode === 'short' ? ' (short mode: not one million)' : ''}`)
      results.memory = await runMemory(settings, keys.get('ES256') as TestKey, jwks, signers, log)
    }
    if (settings.sections.has('cli')) {
      log(`cli: start-up of webhook-jwt --version, decode, jwks <file> against node -e 0, ${settings.cliRuns} interleaved runs each`)
      results.cli = await runCliStartup(settings, keys.get('ES256') as TestKey)
    }
  } finally {
    await signers.close()
    await jwks.close()
  }
  results.elapsedSec = (performance.now() - started) / 1000
  results.loadAfter = loadAverage()

  process.stdout.write(`\n${formatTable(resultRows(results))}\n\nTargets:\n`)
  for (const check of checkTargets(results)) process.stdout.write(`  ${verdict(check).padEnd(7)} ${check.target}: ${check.measured}\n`)
  writeFileSync(new URL('results.md', import.meta.url), resultsMarkdown(results))
  if (results.receiving !== null) writeFileSync(new URL('results.svg', import.meta.url), resultsChart(results))
  process.stdout.write(`\n${Math.round(results.elapsedSec)} s; load average after ${results.loadAfter.join(' / ')}. Wrote bench/results.md${results.receiving === null ? '' : ' and bench/results.svg'}.\n`)
}

main().catch((error: unknown) => {
  log(error instanceof Error ? error.stack ?? error.message : String(error))
  process.exit(1)
})
