import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'

// Shared by every package's tests (not a test file itself: tap runs only *.test.ts).

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { level: number, msg: string }

/** Fastify logger options that write every line, parsed, into `logs`. */
export function captureLogs (logs: LogLine[]): { level: string, stream: Writable } {
  const stream = new Writable({
    write (chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)) as LogLine)
      done()
    }
  })
  return { level: 'info', stream }
}

/** Runs `register` on a fresh app, readies it, and returns the error that stopped it starting, or undefined. */
export async function startupError (register: (app: FastifyInstance) => Promise<unknown>): Promise<unknown> {
  const app = Fastify()
  try {
    await register(app)
    await app.ready()
  } catch (error) {
    return error
  } finally {
    await app.close()
  }
  return undefined
}
