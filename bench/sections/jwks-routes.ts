import type { BenchSettings } from '../harness/bench-options.ts'
import { startServer, type ServerProcess } from '../harness/child-processes.ts'
import { loadServer, type LoadMeasure } from '../harness/load-run.ts'
import { median } from '../harness/median.ts'
import { JWKS_PATH } from '../keys/jwks-server.ts'

export type JwksContender = 'producer-200' | 'producer-304' | 'static'

export interface JwksResult {
  contender: JwksContender
  label: string
  requestsPerSec: number
  p99Ms: number
  cpuMicrosPerRequest: number
  bodyBytes: number
  non2xx: number
  errors: number
  statusCounts: Record<string, number>
}

const PRODUCER = new URL('../servers/producer-jwks.ts', import.meta.url)
const STATIC = new URL('../servers/static-jwks.ts', import.meta.url)

/** The document and ETag a producer process serves (each process has its own keys, so its own ETag). */
async function fetchJwks (server: ServerProcess): Promise<{ body: string, etag: string }> {
  const response = await fetch(`${server.url}${JWKS_PATH}`)
  const etag = response.headers.get('etag')
  if (response.status !== 200 || etag === null) throw new Error(`the producer's JWKS route answered ${response.status}${etag === null ? ' without an ETag' : ''}`)
  return { body: await response.text(), etag }
}

async function measureRoute (server: ServerProcess, headers: Record<string, string>, settings: BenchSettings): Promise<LoadMeasure[]> {
  const { connections, warmupSec, runSec, runs } = settings.jwks
  const requests = [{ method: 'GET', path: JWKS_PATH, headers }]
  await loadServer(server, { connections, durationSec: warmupSec, requests })
  const measures: LoadMeasure[] = []
  for (let run = 0; run < runs; run++) measures.push(await loadServer(server, { connections, durationSec: runSec, requests }))
  return measures
}

function summarise (contender: JwksContender, label: string, bodyBytes: number, measures: readonly LoadMeasure[], expectedStatus: number): JwksResult {
  const statusCounts: Record<string, number> = {}
  for (const measure of measures) {
    for (const [status, count] of Object.entries(measure.statusCounts)) statusCounts[status] = (statusCounts[status] ?? 0) + count
  }
  const responses = measures.reduce((sum, m) => sum + m.responses, 0)
  return {
    contender,
    label,
    requestsPerSec: median(measures.map((m) => m.requestsPerSec)),
    p99Ms: median(measures.map((m) => m.p99Ms)),
    cpuMicrosPerRequest: median(measures.map((m) => m.cpuMicrosPerRequest)),
    bodyBytes,
    // A 304 is the expected answer to If-None-Match: anything else counts as a failure.
    non2xx: responses - (statusCounts[String(expectedStatus)] ?? 0),
    errors: measures.reduce((sum, m) => sum + m.errors, 0),
    statusCounts
  }
}

/** The producer's JWKS route, answering 200 and 304, against a static route with the same JSON. Fresh process each. */
export async function runJwksRoutes (settings: BenchSettings, log: (line: string) => void): Promise<JwksResult[]> {
  const results: JwksResult[] = []
  let document = ''
  for (const conditional of [false, true]) {
    const server = await startServer(PRODUCER, {})
    try {
      const { body, etag } = await fetchJwks(server)
      document = body
      const measures = await measureRoute(server, conditional ? { 'if-none-match': etag } : {}, settings)
      results.push(conditional
        ? summarise('producer-304', 'producer JWKS route, If-None-Match → 304', 0, measures, 304)
        : summarise('producer-200', 'producer JWKS route → 200', Buffer.byteLength(body), measures, 200))
    } finally {
      await server.stop()
    }
  }
  const server = await startServer(STATIC, { body: document })
  try {
    results.push(summarise('static', 'static Fastify route, same JSON → 200', Buffer.byteLength(document), await measureRoute(server, {}, settings), 200))
  } finally {
    await server.stop()
  }
  for (const result of results) log(`  ${result.label}: ${Math.round(result.requestsPerSec)} req/s, p99 ${result.p99Ms} ms, ${result.cpuMicrosPerRequest.toFixed(0)} µs CPU/req`)
  return results
}
