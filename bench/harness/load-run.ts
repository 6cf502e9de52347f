import autocannon from 'autocannon'
import { processCpuMicros } from './proc-stat.ts'
import type { ServerProcess } from './child-processes.ts'

/** One autocannon run against one server process, with the server's CPU over the same window. */
export interface LoadMeasure {
  /** Responses received (2xx or not). */
  responses: number
  durationSec: number
  requestsPerSec: number
  /** The busiest sample's pace: past a cold start, what the server sustains. */
  peakRequestsPerSec: number
  p99Ms: number
  /** The server process's user + system CPU over the run, all threads, per response. */
  cpuMicrosPerRequest: number
  non2xx: number
  /** Connection errors and timeouts. */
  errors: number
  statusCounts: Record<string, number>
}

export interface LoadOptions {
  connections: number
  /** Seconds; or `amount`, a number of requests. */
  durationSec?: number
  amount?: number
  requests: autocannon.Request[]
  /** Milliseconds per pace sample (autocannon's sampleInt); 1000 unless told. */
  sampleMs?: number
}

export async function loadServer (server: ServerProcess, options: LoadOptions): Promise<LoadMeasure> {
  const cpuBefore = processCpuMicros(server.pid)
  const result = await autocannon({
    url: server.url,
    connections: options.connections,
    pipelining: 1,
    sampleInt: options.sampleMs ?? 1000,
    ...(options.amount === undefined ? { duration: options.durationSec ?? 10 } : { amount: options.amount }),
    requests: options.requests
  })
  const cpuMicros = processCpuMicros(server.pid) - cpuBefore
  const durationSec = (result.finish.getTime() - result.start.getTime()) / 1000
  const responses = result.requests.total
  const statusCounts: Record<string, number> = {}
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCounts[status] = count
  return {
    responses,
    durationSec,
    requestsPerSec: responses / durationSec,
    peakRequestsPerSec: (result.requests.max * 1000) / (options.sampleMs ?? 1000),
    p99Ms: result.latency.p99,
    cpuMicrosPerRequest: responses === 0 ? NaN : cpuMicros / responses,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    statusCounts
  }
}
