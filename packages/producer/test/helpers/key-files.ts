import { execFileSync } from 'node:child_process'
import { closeSync, constants, openSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileKeyStore } from '@webhook-jwt/producer'
import { buildProducer } from './producer-app.ts'

// Key files for the file store's tests (not a test file itself: tap runs only *.test.ts).

interface TestContext {
  testdir(): string
  teardown(fn: () => unknown): void
}

/** A key file a producer wrote (mode 0600, in a fresh folder), with that producer closed; returns its path and its first key. */
export async function writtenKeyFile (t: TestContext, name = 'keys.json'): Promise<{ path: string, kid: string }> {
  const path = join(t.testdir(), name)
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
  const kid = app.webhooks.status().activeKid
  await app.close()
  return { path, kid }
}

/** Creates a FIFO (named pipe) with mode 0600: opening it for reading blocks until a writer opens it. */
export function makeFifo (path: string): void {
  execFileSync('mkfifo', ['-m', '600', path])
}

/**
 * Opens the FIFO for writing without blocking, which wakes a reader stuck in open(); ENXIO (no reader) is
 * the expected answer when nothing tried to read it. Run before the test ends, so a blocked read cannot hang it.
 */
export function releaseFifo (path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
  } catch {}
}

/** What `promise` settles to, or `'still waiting'` after `ms`: for calls that blocked before the fix. */
export async function within<T> (promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  const timeout = new AbortController()
  try {
    return await Promise.race([promise, sleep(ms, 'still waiting' as const, { signal: timeout.signal })])
  } finally {
    timeout.abort()
  }
}
