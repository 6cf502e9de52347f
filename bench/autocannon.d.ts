// autocannon ships no types (and @types/autocannon is not a dependency): this declares the part the
// harness uses, from autocannon 9's README and lib/run.js.
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
      /** Called before each request is written; returning a falsy value skips it. */
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request | null
    }

    interface Options {
      url: string
      connections?: number
      /** Seconds. */
      duration?: number
      /** A number of requests, instead of a duration. */
      amount?: number
      pipelining?: number
      /** Seconds before a request counts as timed out. */
      timeout?: number
      method?: string
      headers?: Record<string, string>
      body?: string | Buffer
      requests?: Request[]
      /** Milliseconds per sample of the `requests` histogram (default 1000). */
      sampleInt?: number
      /** Count non-2xx latencies too (by default only 2xx ones are recorded). */
      excludeErrorStats?: boolean
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p99: number
      p99_9?: number
      sent?: number
    }

    interface Result {
      requests: Histogram
      latency: Histogram
      throughput: Histogram
      /** Seconds, with fractions. */
      duration: number
      start: Date
      finish: Date
      errors: number
      timeouts: number
      mismatches: number
      non2xx: number
      resets: number
      '1xx': number
      '2xx': number
      '3xx': number
      '4xx': number
      '5xx': number
      statusCodeStats: Record<string, { count: number }>
    }
  }

  function autocannon (options: autocannon.Options): Promise<autocannon.Result>
  export = autocannon
}
