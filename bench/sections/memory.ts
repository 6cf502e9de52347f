import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import type { BenchSettings } from '../harness/bench-options.ts'
import { startServer, type ServerProcess } from '../harness/child-processes.ts'
import { loadServer, type LoadMeasure } from '../harness/load-run.ts'
import { processRssBytes } from '../harness/proc-stat.ts'
import type { JwksServer } from '../keys/jwks-server.ts'
import type { TestKey } from '../keys/test-keys.ts'
import type { ReceiverConfig } from '../servers/receiver-config.ts'
import { TokenCursor, TokenPool } from '../tokens/token-pool.ts'
import type { TokenSigners } from '../tokens/token-signers.ts'
import { unknownKidRequests, webhookRequests } from '../tokens/webhook-requests.ts'
import { AUDIENCE, TOKEN_TTL_SEC } from './receiving.ts'

export type MemoryRun = 'unknown-kids' | 'distinct-jtis'

export interface MemoryResult {
  run: MemoryRun
  label: string
  /** Every request of the run, warm-up included. */
  requests: number
  /** The first requests, sent before the "before" RSS is read. */
  warmupRequests: number
  requestsPerSec: number
  /** The server's CPU per request after the warm-up: what an unknown kid or a valid webhook costs it. */
  cpuMicrosPerRequest: number
  rssBeforeMiB: number
  rssAfterMiB: number
  rssPeakMiB: number
  /** RSS after − RSS before: what the target is judged on. */
  growthMiB: number
  /** The V8 heap in use after a full garbage collection, before and after: what the server retains. */
  heapRetainedBeforeMiB: number
  heapRetainedAfterMiB: number
  statusCounts: Record<string, number>
  /** What this run should be answered: 401 or 503 for unknown kids (by design), 2xx for valid tokens. */
  expectedAnswers: string
  /** Answers outside `expectedAnswers`, plus connection errors. */
  unexpected: number
}

const CONSUMER = new URL('../servers/webhook-consumer.ts', import.meta.url)
const ALGORITHM: SigningAlgorithm = 'ES256'
const MIB = 1024 * 1024
/** Valid tokens are signed in segments just before they are sent, so that none expires during a long run. */
const SEGMENTS = 10
const RSS_SAMPLE_MS = 250

/** Reads a process's RSS every 250 ms and keeps the highest. */
function sampleRss (pid: number): { stop(): number } {
  let peak = processRssBytes(pid)
  const timer = setInterval(() => { peak = Math.max(peak, processRssBytes(pid)) }, RSS_SAMPLE_MS)
  return {
    stop () {
      clearInterval(timer)
      return Math.max(peak, processRssBytes(pid))
    }
  }
}

function addCounts (into: Record<string, number>, measure: LoadMeasure): void {
  for (const [status, count] of Object.entries(measure.statusCounts)) into[status] = (into[status] ?? 0) + count
}

async function unknownKids (server: ServerProcess, config: ReceiverConfig, total: number, warmup: number, connections: number): Promise<Omit<MemoryResult, 'run' | 'label' | 'expectedAnswers'>> {
  const requests = unknownKidRequests(ALGORITHM, config.issuer, config.audience, TOKEN_TTL_SEC)
  const statusCounts: Record<string, number> = {}
  const warm = await loadServer(server, { connections, amount: warmup, requests })
  addCounts(statusCounts, warm)
  const before = processRssBytes(server.pid)
  const heapBefore = (await server.measureMemory()).heapUsedBytes
  const rss = sampleRss(server.pid)
  const main = await loadServer(server, { connections, amount: total - warmup, requests })
  const peak = rss.stop()
  const after = processRssBytes(server.pid)
  const heapAfter = (await server.measureMemory()).heapUsedBytes
  addCounts(statusCounts, main)
  const unexpected = Object.entries(statusCounts).filter(([status]) => status !== '401' && status !== '503').reduce((sum, [, count]) => sum + count, 0) + warm.errors + main.errors
  return { requests: warm.responses + main.responses, warmupRequests: warmup, requestsPerSec: main.requestsPerSec, cpuMicrosPerRequest: main.cpuMicrosPerRequest, rssBeforeMiB: before / MIB, rssAfterMiB: after / MIB, rssPeakMiB: peak / MIB, growthMiB: (after - before) / MIB, heapRetainedBeforeMiB: heapBefore / MIB, heapRetainedAfterMiB: heapAfter / MIB, statusCounts, unexpected }
}

async function distinctJtis (server: ServerProcess, pool: TokenPool, total: number, warmup: number, connections: number): Promise<Omit<MemoryResult, 'run' | 'label' | 'expectedAnswers'>> {
  const cursor = new TokenCursor(pool)
  const requests = webhookRequests(pool, cursor)
  const statusCounts: Record<string, number> = {}
  await pool.ensure(warmup + connections * 2)
  const warm = await loadServer(server, { connections, amount: warmup, requests })
  addCounts(statusCounts, warm)
  let errors = warm.errors
  let pace = warm.requestsPerSec
  const before = processRssBytes(server.pid)
  const heapBefore = (await server.measureMemory()).heapUsedBytes
  const rss = sampleRss(server.pid)
  const segment = Math.ceil((total - warmup) / SEGMENTS)
  let sent = warmup
  let seconds = 0
  let cpuMicros = 0
  while (sent < total) {
    const amount = Math.min(segment, total - sent)
    await pool.ensure(cursor.position + amount + connections * 2)
    await pool.renewExpiring(Date.now() + (amount / pace) * 2000 + 60_000, cursor.position)
    const measure = await loadServer(server, { connections, amount, requests })
    addCounts(statusCounts, measure)
    errors += measure.errors
    pace = measure.requestsPerSec
    seconds += measure.durationSec
    cpuMicros += measure.cpuMicrosPerRequest * measure.responses
    sent += amount
    pool.release(cursor.position)
  }
  const peak = rss.stop()
  const after = processRssBytes(server.pid)
  const heapAfter = (await server.measureMemory()).heapUsedBytes
  const accepted = Object.entries(statusCounts).filter(([status]) => status.startsWith('2')).reduce((sum, [, count]) => sum + count, 0)
  const answered = Object.values(statusCounts).reduce((sum, count) => sum + count, 0)
  return { requests: answered, warmupRequests: warmup, requestsPerSec: (sent - warmup) / seconds, cpuMicrosPerRequest: cpuMicros / (sent - warmup), rssBeforeMiB: before / MIB, rssAfterMiB: after / MIB, rssPeakMiB: peak / MIB, growthMiB: (after - before) / MIB, heapRetainedBeforeMiB: heapBefore / MIB, heapRetainedAfterMiB: heapAfter / MIB, statusCounts, unexpected: answered - accepted + errors + cursor.reused }
}

function describe (result: MemoryResult): string {
  return `  ${result.label}: RSS ${result.rssBeforeMiB.toFixed(1)} → ${result.rssAfterMiB.toFixed(1)} MiB (peak ${result.rssPeakMiB.toFixed(1)}), growth ${result.growthMiB.toFixed(1)} MiB, heap after GC ${result.heapRetainedBeforeMiB.toFixed(1)} → ${result.heapRetainedAfterMiB.toFixed(1)} MiB, ${Math.round(result.requestsPerSec)} req/s (${Math.round(result.cpuMicrosPerRequest)} µs CPU each), answers ${JSON.stringify(result.statusCounts)}${result.unexpected > 0 ? `, ${result.unexpected} UNEXPECTED` : ''}`
}

/** RSS of a fresh consumer before and after `memoryRequests` unknown kids, then as many distinct valid jtis. */
export async function runMemory (settings: BenchSettings, key: TestKey, jwks: JwksServer, signers: TokenSigners, log: (line: string) => void): Promise<MemoryResult[]> {
  const config: ReceiverConfig = { algorithm: ALGORITHM, issuer: jwks.origin, audience: AUDIENCE, jwksUrl: jwks.jwksUrl }
  const total = settings.memoryRequests
  const warmup = Math.ceil(total / 100)
  const { connections } = settings.receiving
  const results: MemoryResult[] = []

  // --expose-gc lets the server report its heap after a full collection; these runs are not timed against anything.
  let server = await startServer(CONSUMER, config, ['--expose-gc'])
  try {
    results.push({ run: 'unknown-kids', label: `${total.toLocaleString('en')} requests with random unknown kids`, expectedAnswers: '401 or 503', ...await unknownKids(server, config, total, warmup, connections) })
    log(describe(results[0] as MemoryResult))
  } finally {
    await server.stop()
  }

  const pool = new TokenPool({ algorithm: ALGORITHM, kid: key.kid, privateJwk: key.privateJwk, issuer: jwks.origin, audience: AUDIENCE, ttlSec: TOKEN_TTL_SEC }, signers)
  server = await startServer(CONSUMER, config, ['--expose-gc'])
  try {
    results.push({ run: 'distinct-jtis', label: `${total.toLocaleString('en')} distinct valid jtis`, expectedAnswers: '2xx', ...await distinctJtis(server, pool, total, warmup, connections) })
    log(describe(results[1] as MemoryResult))
  } finally {
    await server.stop()
  }
  return results
}
