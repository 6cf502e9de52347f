import { cpuFloorMicros, findReceiver, receivingFailures, type BenchResults } from './bench-results.ts'
import { micros, ratio, whole } from './number-format.ts'
import { deliveryLabel } from '../sections/sending.ts'

const HEADER = ['section', 'contender', 'alg / mode', 'rate', 'p99 ms', 'CPU µs', '× base', '× ceiling', 'failures / notes']

/**
 * Every measured figure as rows of one table. "× base" is the ratio to the section's baseline: (b) the jose
 * preHandler for receiving, jose SignJWT for signing, the static route for JWKS, the hand-written loop for
 * delivery. "× ceiling" is the ratio to (a), the bare route. Rates are req/s, ops/s or webhooks/s.
 */
export function resultRows (results: BenchResults): string[][] {
  const rows: string[][] = [HEADER]
  for (const result of results.receiving?.results ?? []) {
    const b = findReceiver(results, result.algorithm, 'b')
    const a = findReceiver(results, result.algorithm, 'a')
    const failures = receivingFailures(result)
    const notes = failures > 0
      ? `FLAGGED ${result.non2xx} non-2xx, ${result.errors} errors${result.tokensReused > 0 && result.contender !== 'a' ? `, ${result.tokensReused} tokens reused` : ''} ${JSON.stringify(result.statusCounts)}`
      : result.tokensReused > 0 ? `ok (${whole(result.tokensReused)} tokens sent twice; it ignores them)` : 'ok'
    rows.push(['receive', `(${result.contender}) ${result.label}`, result.algorithm, `${whole(result.requestsPerSec)} req/s`, String(result.p99Ms), micros(result.cpuMicrosPerRequest), ratio(result.requestsPerSec, b?.requestsPerSec), ratio(result.requestsPerSec, a?.requestsPerSec), notes])
  }
  for (const [algorithm, verify] of Object.entries(results.receiving?.verifyFloors ?? {})) {
    const floor = cpuFloorMicros(results, algorithm)
    rows.push(['floor', 'crypto.verify, sync', algorithm, `${whole(verify.opsPerSec)} ops/s`, '', micros(verify.cpuMicrosPerOp), '', '', `floor = (a) CPU + verify = ${floor === undefined ? '–' : micros(floor)} µs/req`])
  }
  for (const measure of results.sending?.sign ?? []) {
    const mode = `${measure.algorithm} ${measure.concurrency === 'sequential' ? 'seq' : `${measure.concurrency} in flight`}`
    rows.push(['sign', 'app.webhooks.sign', mode, `${whole(measure.producer.opsPerSec)} ops/s`, '', micros(measure.producer.cpuMicrosPerOp), ratio(measure.producer.opsPerSec, measure.jose.opsPerSec), '', 'ok'])
    rows.push(['sign', 'jose SignJWT by hand', mode, `${whole(measure.jose.opsPerSec)} ops/s`, '', micros(measure.jose.cpuMicrosPerOp), '1.00×', '', 'ok'])
  }
  const staticRoute = results.sending?.jwks.find((result) => result.contender === 'static')
  for (const route of results.sending?.jwks ?? []) {
    const failures = route.non2xx + route.errors
    rows.push(['jwks', route.label, `GET, ${whole(route.bodyBytes)} B`, `${whole(route.requestsPerSec)} req/s`, String(route.p99Ms), micros(route.cpuMicrosPerRequest), ratio(route.requestsPerSec, staticRoute?.requestsPerSec), '', failures > 0 ? `FLAGGED ${failures} unexpected ${JSON.stringify(route.statusCounts)}` : 'ok'])
  }
  const handWritten = results.sending?.delivery.find((measure) => measure.way === 'hand-written')
  for (const measure of results.sending?.delivery ?? []) {
    rows.push(['deliver', deliveryLabel(measure.way), 'ES256', `${whole(measure.webhooksPerSec)} webhooks/s`, '', micros(measure.cpuMicrosPerWebhook), ratio(measure.webhooksPerSec, handWritten?.webhooksPerSec), '', measure.failed > 0 ? `FLAGGED ${measure.failed} not delivered` : `CPU ${ratio(measure.cpuMicrosPerWebhook, handWritten?.cpuMicrosPerWebhook)} of by hand`])
  }
  for (const startup of results.cli?.commands ?? []) {
    rows.push(['cli', startup.command, `median of ${results.cli?.runs ?? 0}`, `${startup.medianMs.toFixed(0)} ms`, '', '', `${startup.ratio.toFixed(2)}× node`, '', startup.failures > 0 ? `FLAGGED ${startup.failures} runs failed` : `node -e 0: ${(results.cli?.nodeMs ?? NaN).toFixed(0)} ms`])
  }
  for (const run of results.memory ?? []) {
    rows.push(['memory', `(d) ${run.label}`, 'ES256', `${whole(run.requestsPerSec)} req/s`, '', micros(run.cpuMicrosPerRequest), '', '', `RSS ${run.rssBeforeMiB.toFixed(0)} → ${run.rssAfterMiB.toFixed(0)} MiB (peak ${run.rssPeakMiB.toFixed(0)}): ${run.growthMiB >= 0 ? '+' : ''}${run.growthMiB.toFixed(1)} MiB, heap after GC ${run.heapRetainedBeforeMiB.toFixed(0)} → ${run.heapRetainedAfterMiB.toFixed(0)} MiB; answers ${JSON.stringify(run.statusCounts)}${run.unexpected > 0 ? `; FLAGGED ${run.unexpected} unexpected` : ''}`])
  }
  return rows
}

/** The rows as a plain-text table with aligned columns. */
export function formatTable (rows: readonly string[][]): string {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)))
  const line = (row: readonly string[]): string => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()
  const [header, ...body] = rows
  if (header === undefined) return ''
  return [line(header), widths.map((width) => '─'.repeat(width)).join('  '), ...body.map(line)].join('\n')
}
