import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

// Tests against a real Redis server. CI (.ci/run) makes sure one runs on 127.0.0.1:6379 and sets
// WEBHOOK_JWT_REQUIRE_REDIS=1, so a missing server fails the run there; on a machine without Redis the tests
// report themselves skipped, loudly, and load none of the code they would cover.

/** The shared server the tests use: WEBHOOK_JWT_REDIS_URL, or the standard port on loopback. */
export const REDIS_URL = process.env.WEBHOOK_JWT_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const REDIS_REQUIRED = process.env.WEBHOOK_JWT_REQUIRE_REDIS === '1'

interface SkipContext {
  fail(message: string): void
  skip(message: string, fn: () => void): void
}

/** Sends one inline command on a fresh connection and resolves its first reply line ('' when it cannot connect). */
export async function redisCommand (url: string, command: string, timeoutMs = 1000): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) })
    let reply = ''
    const done = (line: string): void => {
      socket.destroy()
      resolve(line)
    }
    socket.setTimeout(timeoutMs, () => done(''))
    socket.on('error', () => done(''))
    socket.on('close', () => done(''))
    socket.on('connect', () => socket.write(`${command}\r\n`))
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8')
      const end = reply.indexOf('\r\n')
      if (end !== -1) done(reply.slice(0, end))
    })
  })
}

/**
 * The shared server's URL, or `null` once the test has been marked skipped (or failed, when Redis is required)
 * because no server answers there.
 */
export async function redisOrSkip (t: SkipContext, what: string): Promise<string | null> {
  if (await redisCommand(REDIS_URL, 'PING') === '+PONG') return REDIS_URL
  if (REDIS_REQUIRED) {
    t.fail(`WEBHOOK_JWT_REQUIRE_REDIS=1 but no Redis server answers at ${REDIS_URL}`)
  } else {
    process.stderr.write(`\n*** SKIPPED: ${what}: no Redis server at ${REDIS_URL} (start redis-server, or set WEBHOOK_JWT_REDIS_URL) ***\n\n`)
    t.skip(`no Redis server at ${REDIS_URL}: ${what} did not run`, () => {})
  }
  return null
}

/** A key prefix no other test uses, so test files can share one server. */
export function uniquePrefix (name: string): string {
  return `webhook-jwt-test:${name}:${randomBytes(6).toString('hex')}:`
}

/** Deletes every key that starts with `prefix`: a test's cleanup of what it wrote. */
export async function deleteKeys (url: string, prefix: string): Promise<void> {
  const client = new Redis(url)
  try {
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
  } finally {
    await client.quit()
  }
}

/** A TCP port free on loopback right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A redis-server of the test's own, on a free port, for scenarios that stop or restart Redis: the shared
 * server is never touched. It persists to an append-only file fsynced on every write, in a temporary folder,
 * as a deployment that must not lose keys or replay records across a restart does.
 */
export class PrivateRedis {
  readonly port: number
  readonly url: string
  readonly #folder: string
  #process: ChildProcess | null = null

  private constructor (port: number, folder: string) {
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.#folder = folder
  }

  static async start (): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), 'webhook-jwt-redis-')))
    await server.up()
    return server
  }

  /** Starts the server (again) on the same port and data folder, and waits until it answers. */
  async up (): Promise<void> {
    this.#process = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.#folder, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--logfile', join(this.#folder, 'redis.log')
    ], { stdio: 'ignore' })
    const deadline = Date.now() + 10_000
    while (await redisCommand(this.url, 'PING', 200) !== '+PONG') {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Stops the server: `SHUTDOWN` (the file is complete) or SIGKILL. Resolves once the port is closed. */
  async down (how: 'shutdown' | 'kill' = 'shutdown'): Promise<void> {
    const child = this.#process
    if (child === null) return
    this.#process = null
    const exited = new Promise((resolve) => child.once('exit', resolve))
    if (child.exitCode === null && child.signalCode === null) {
      if (how === 'kill') child.kill('SIGKILL')
      else await redisCommand(this.url, 'SHUTDOWN')
      await exited
    }
  }

  async stop (): Promise<void> {
    await this.down('kill')
    await rm(this.#folder, { recursive: true, force: true })
  }
}
