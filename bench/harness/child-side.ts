import type { ChildMessage } from './child-processes.ts'

/** The configuration the harness passed to this child. */
export function readChildConfig<T> (): T {
  const raw = process.env.BENCH_CONFIG
  if (raw === undefined) throw new Error('BENCH_CONFIG is not set: this file is started by bench/run.ts')
  return JSON.parse(raw) as T
}

export function sendToHarness (message: ChildMessage, sent: (error: Error | null) => void = () => {}): void {
  if (process.send === undefined) throw new Error('no IPC channel: this file is started by bench/run.ts')
  process.send(message, sent)
}

/**
 * Runs a task child's body, sends its result, or its failure, to the harness, and exits (normally, so that
 * `--cpu-prof` writes its profile). The harness owns the child: when the IPC channel closes (the harness
 * ended, even by Ctrl-C) or it sends SIGTERM, the child ends too.
 */
export function runAsTask (body: () => Promise<unknown>): void {
  process.once('disconnect', () => process.exit(0))
  process.once('SIGTERM', () => process.exit(0))
  body().then(
    (result) => sendToHarness({ type: 'result', result }, () => process.exit(0)),
    (error: unknown) => {
      sendToHarness({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) }, () => process.exit(1))
    }
  )
}
