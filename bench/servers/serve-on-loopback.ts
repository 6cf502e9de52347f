import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { sendToHarness } from '../harness/child-side.ts'
import type { HarnessMessage } from '../harness/child-processes.ts'

/** `global.gc`, which exists when the server runs with `--expose-gc` (the memory runs). */
const collectGarbage = (globalThis as { gc?: () => void }).gc

function reportMemory (): void {
  collectGarbage?.()
  const { rss, heapUsed } = process.memoryUsage()
  sendToHarness({ type: 'memory', rssBytes: rss, heapUsedBytes: heapUsed })
}

/**
 * Listens on 127.0.0.1, on a port the system picks, and tells the harness which. The server ends with the
 * harness (its IPC channel closes) and on SIGTERM.
 */
export async function serveOnLoopback (app: FastifyInstance): Promise<void> {
  const stop = (): void => {
    app.close().finally(() => process.exit(0))
  }
  process.once('disconnect', stop)
  process.once('SIGTERM', stop)
  process.on('message', (message: HarnessMessage) => {
    if (message.type === 'measure-memory') reportMemory()
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  sendToHarness({ type: 'listening', port: (app.server.address() as AddressInfo).port })
}
