import { ALGORITHMS } from '../harness/bench-options.ts'
import { DECODE_TARGET_RATIO } from '../sections/cli.ts'
import { cpuFloorMicros, findReceiver, receivingFailures, type BenchResults } from './bench-results.ts'

/** One target the lead checks: what was measured, and whether it is met (`null`: cannot be judged from this run). */
export interface TargetCheck {
  target: string
  measured: string
  met: boolean | null
}

/** Memory growth allowed over a memory run. */
export const MEMORY_GROWTH_LIMIT_MIB = 64

function times (value: number): string {
  return `${value.toFixed(2)}×`
}

function receivingTargets (results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = []
  for (const algorithm of ALGORITHMS) {
    const b = findReceiver(results, algorithm, 'b')
    const c = findReceiver(results, algorithm, 'c')
    const d = findReceiver(results, algorithm, 'd')
    if (b === undefined || c === undefined || d === undefined) continue
    const dFailed = receivingFailures(d) > 0
    const failedNote = (name: string, failures: number): string => failures > 0 ? ` (${name} FLAGGED: ${failures} failed requests)` : ''
    const dOverB = d.requestsPerSec / b.requestsPerSec
    checks.push({
      target: `${algorithm}: (d) consumer ≥ 1.0 × (b) jose preHandler, req/s`,
      measured: times(dOverB) + failedNote('(d)', receivingFailures(d)) + failedNote('(b)', receivingFailures(b)),
      met: dFailed ? false : receivingFailures(b) > 0 ? null : dOverB >= 1.0
    })
    const dOverC = d.requestsPerSec / c.requestsPerSec
    checks.push({
      target: `${algorithm}: (d) consumer ≥ 1.3 × (c) @fastify/jwt + get-jwks, req/s`,
      measured: times(dOverC) + failedNote('(d)', receivingFailures(d)) + failedNote('(c)', receivingFailures(c)),
      met: dFailed ? false : receivingFailures(c) > 0 ? null : dOverC >= 1.3
    })
    const floor = cpuFloorMicros(results, algorithm)
    const cpuOverFloor = floor === undefined ? NaN : d.cpuMicrosPerRequest / floor
    checks.push({
      target: `${algorithm} (stretch): (d) ≥ 1.5 × (b), and (d) CPU/request ≤ 1.5 × floor`,
      measured: `${times(dOverB)}; ${Math.round(d.cpuMicrosPerRequest)} µs vs floor ${floor === undefined ? '–' : Math.round(floor)} µs = ${times(cpuOverFloor)}`,
      met: dFailed || receivingFailures(b) > 0 ? (dFailed ? false : null) : dOverB >= 1.5 && cpuOverFloor <= 1.5
    })
  }
  return checks
}

function sendingTargets (results: BenchResults): TargetCheck[] {
  const sending = results.sending
  if (sending === null) return []
  const checks: TargetCheck[] = sending.sign.map((measure) => {
    const speed = measure.producer.opsPerSec / measure.jose.opsPerSec
    const mode = measure.concurrency === 'sequential' ? 'sequential' : `${measure.concurrency} in flight`
    return { target: `${measure.algorithm} ${mode}: app.webhooks.sign ≥ 0.9 × jose SignJWT, ops/s`, measured: times(speed), met: speed >= 0.9 }
  })
  const staticRoute = sending.jwks.find((result) => result.contender === 'static')
  for (const route of sending.jwks.filter((result) => result.contender !== 'static')) {
    if (staticRoute === undefined) break
    const speed = route.requestsPerSec / staticRoute.requestsPerSec
    const failures = route.non2xx + route.errors + staticRoute.non2xx + staticRoute.errors
    checks.push({
      target: `${route.label} ≥ 0.8 × static route, req/s`,
      measured: times(speed) + (failures > 0 ? ` (FLAGGED: ${failures} unexpected answers)` : ''),
      met: failures > 0 ? false : speed >= 0.8
    })
  }
  return checks
}

function memoryTargets (results: BenchResults): TargetCheck[] {
  return (results.memory ?? []).map((run) => ({
    target: `memory, ${run.label}: RSS growth < ${MEMORY_GROWTH_LIMIT_MIB} MiB`,
    measured: `${run.growthMiB.toFixed(1)} MiB${run.unexpected > 0 ? ` (FLAGGED: ${run.unexpected} unexpected answers)` : ''}`,
    met: run.unexpected === 0 && run.growthMiB < MEMORY_GROWTH_LIMIT_MIB
  }))
}

function cliTargets (results: BenchResults): TargetCheck[] {
  const decode = results.cli?.commands.find((startup) => startup.command.startsWith('webhook-jwt decode'))
  if (decode === undefined) return []
  return [{
    target: `cli: webhook-jwt decode starts within ${DECODE_TARGET_RATIO} × node -e 0, wall time`,
    measured: `${times(decode.ratio)} (${decode.medianMs.toFixed(0)} ms vs ${(results.cli?.nodeMs ?? NaN).toFixed(0)} ms)${decode.failures > 0 ? ` (FLAGGED: ${decode.failures} runs failed)` : ''}`,
    met: decode.failures === 0 && decode.ratio <= DECODE_TARGET_RATIO
  }]
}

/** Every target, from this run's numbers only. */
export function checkTargets (results: BenchResults): TargetCheck[] {
  return [...receivingTargets(results), ...sendingTargets(results), ...memoryTargets(results), ...cliTargets(results)]
}

export function verdict (check: TargetCheck): string {
  return check.met === null ? 'n/a' : check.met ? 'met' : 'NOT met'
}
