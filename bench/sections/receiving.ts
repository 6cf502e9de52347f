import { fileURLToPath } from 'node:url'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import type { BenchSettings } from '../harness/bench-options.ts'
import { startServer } from '../harness/child-processes.ts'
import { loadServer, type LoadMeasure } from '../harness/load-run.ts'
import { median } from '../harness/median.ts'
import type { JwksServer } from '../keys/jwks-server.ts'
import type { TestKey } from '../keys/test-keys.ts'
import type { ReceiverConfig } from '../servers/receiver-config.ts'
import { TokenCursor, TokenPool } from '../tokens/token-pool.ts'
import type { TokenSigners } from '../tokens/token-signers.ts'
import { webhookRequests } from '../tokens/webhook-requests.ts'

export type ReceiverId = 'a' | 'b' | 'c' | 'd'

interface Receiver {
  id: ReceiverId
  label: string
  file: URL
  /** Whether it checks tokens, and so must be sent a distinct valid token with every request. */
  verifies: boolean
}

export const RECEIVERS: readonly Receiver[] = [
  { id: 'a', label: 'bare Fastify POST route', file: new URL('../servers/bare-route.ts', import.meta.url), verifies: false },
  { id: 'b', label: 'jose jwtVerify preHandler', file: new URL('../servers/jose-prehandler.ts', import.meta.url), verifies: true },
  { id: 'c', label: '@fastify/jwt + get-jwks', file: new URL('../servers/fastify-jwt-get-jwks.ts', import.meta.url), verifies: true },
  { id: 'd', label: '@webhook-jwt/consumer', file: new URL('../servers/webhook-consumer.ts', import.meta.url), verifies: true }
]

/** One contender under one algorithm: the medians of its measured runs, and every failure summed. */
export interface ReceivingResult {
  algorithm: SigningAlgorithm
  contender: ReceiverId
  label: string
  requestsPerSec: number
  p99Ms: number
  cpuMicrosPerRequest: number
  responses: number
  non2xx: number
  errors: number
  /** Tokens sent a second time in the measured runs (only the bare route, which ignores them, may). */
  tokensReused: number
  statusCounts: Record<string, number>
}

export const AUDIENCE = 'https://receiver.bench.invalid/hooks'
/** `exp − iat` of the bench's tokens: the consumer's default maxTokenAge. */
export const TOKEN_TTL_SEC = 300
/** Tokens signed before the first warm-up: a guess of the fastest verifying rate, per second of warm-up. */
const WARMUP_TOKENS_PER_SEC = 12_000
/**
 * Before the measured runs the pool is grown to what they need at the expected pace × this headroom. The
 * pace is the warm-up's busiest quarter-second (its average would count the cold start), or the fastest
 * verifying contender measured so far for this algorithm, whichever is higher. A 1 s warm-up (`--short`)
 * ends before the JIT has settled: its busiest quarter-second was seen 30% below the run that followed.
 */
function tokenHeadroom (warmupSec: number): number {
  return warmupSec < 2 ? 2 : 1.25
}
/** The warm-up's pace is sampled this often. */
const PACE_SAMPLE_MS = 250

/** Where `--cpu-prof` writes each receiving server's profile (open it in Chrome DevTools, Performance tab). */
export const PROFILE_DIR = fileURLToPath(new URL('../profiles/', import.meta.url))

function cpuProfileArgs (name: string): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`]
}

/** A token must stay valid this long after the last run that may send it. */
const VALIDITY_MARGIN_MS = 30_000

function sumCounts (measures: readonly LoadMeasure[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const measure of measures) {
    for (const [status, count] of Object.entries(measure.statusCounts)) counts[status] = (counts[status] ?? 0) + count
  }
  return counts
}

async function measureReceiver (receiver: Receiver, algorithm: SigningAlgorithm, pool: TokenPool, config: ReceiverConfig, settings: BenchSettings, fastestSoFar: number): Promise<ReceivingResult> {
  const { connections, warmupSec, runSec, runs } = settings.receiving
  await pool.renewExpiring(Date.now() + (warmupSec + runs * runSec) * 1000 + VALIDITY_MARGIN_MS, 0)
  const server = await startServer(receiver.file, config, settings.cpuProfile ? cpuProfileArgs(`${algorithm}-${receiver.id}`) : [])
  try {
    const cursor = new TokenCursor(pool)
    const requests = webhookRequests(pool, cursor)
    const warmup = await loadServer(server, { connections, durationSec: warmupSec, requests, sampleMs: PACE_SAMPLE_MS })
    // A contender that refuses most of its warm-up (the recipe that cannot read an Ed25519 key) is flagged
    // anyway: it does not need a distinct token per refusal.
    if (receiver.verifies && warmup.non2xx * 2 < warmup.responses) {
      // Enough distinct tokens for the measured runs at the warm-up's pace, with headroom.
      const pace = Math.max(warmup.peakRequestsPerSec, fastestSoFar)
      await pool.ensure(cursor.position + pace * runSec * runs * tokenHeadroom(warmupSec) + connections * 2)
      await pool.renewExpiring(Date.now() + runs * runSec * 1000 + VALIDITY_MARGIN_MS, cursor.position)
    }
    const reusedBefore = cursor.reused
    const measures: LoadMeasure[] = []
    for (let run = 0; run < runs; run++) measures.push(await loadServer(server, { connections, durationSec: runSec, requests }))
    return {
      algorithm,
      contender: receiver.id,
      label: receiver.label,
      requestsPerSec: median(measures.map((m) => m.requestsPerSec)),
      p99Ms: median(measures.map((m) => m.p99Ms)),
      cpuMicrosPerRequest: median(measures.map((m) => m.cpuMicrosPerRequest)),
      responses: measures.reduce((sum, m) => sum + m.responses, 0),
      non2xx: measures.reduce((sum, m) => sum + m.non2xx, 0),
      errors: measures.reduce((sum, m) => sum + m.errors, 0),
      tokensReused: cursor.reused - reusedBefore,
      statusCounts: sumCounts(measures)
    }
  } finally {
    await server.stop()
  }
}

export interface ReceivingSection {
  results: ReceivingResult[]
  /** Seconds spent signing tokens, outside every measured window. */
  signingSec: number
}

/** Every receiving contender, for every algorithm, one fresh server process each, one after the other. */
export async function runReceiving (settings: BenchSettings, keys: ReadonlyMap<SigningAlgorithm, TestKey>, jwks: JwksServer, signers: TokenSigners, log: (line: string) => void): Promise<ReceivingSection> {
  const results: ReceivingResult[] = []
  let signingSec = 0
  for (const [algorithm, key] of keys) {
    const config: ReceiverConfig = { algorithm, issuer: jwks.origin, audience: AUDIENCE, jwksUrl: jwks.jwksUrl }
    const pool = new TokenPool({ algorithm, kid: key.kid, privateJwk: key.privateJwk, issuer: jwks.origin, audience: AUDIENCE, ttlSec: TOKEN_TTL_SEC }, signers)
    await pool.ensure(settings.receiving.warmupSec * WARMUP_TOKENS_PER_SEC)
    let fastestVerifier = 0
    for (const receiver of RECEIVERS) {
      const result = await measureReceiver(receiver, algorithm, pool, config, settings, fastestVerifier)
      results.push(result)
      if (receiver.verifies && result.non2xx + result.errors === 0) fastestVerifier = Math.max(fastestVerifier, result.requestsPerSec)
      const failures = result.non2xx + result.errors > 0 ? `  FAILURES: ${result.non2xx} non-2xx, ${result.errors} errors ${JSON.stringify(result.statusCounts)}` : ''
      log(`  ${algorithm} (${receiver.id}) ${receiver.label}: ${Math.round(result.requestsPerSec)} req/s, p99 ${result.p99Ms} ms, ${result.cpuMicrosPerRequest.toFixed(0)} µs CPU/req${failures}`)
    }
    signingSec += pool.signingMs / 1000
    log(`  ${algorithm}: ${pool.size} distinct tokens signed in ${(pool.signingMs / 1000).toFixed(1)} s (outside the measured windows)`)
  }
  return { results, signingSec }
}
