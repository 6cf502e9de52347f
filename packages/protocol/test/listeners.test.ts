import { EventEmitter } from 'node:events'
import t from 'tap'
import { emitSafely } from '@webhook-jwt/protocol'

t.test('every listener runs; throwing and rejecting ones are reported, not propagated', async (t) => {
  const emitter = new EventEmitter()
  const seen: unknown[] = []
  const errors: unknown[] = []
  emitter.on('tick', () => { throw new Error('sync bug') })
  emitter.on('tick', async () => { throw new Error('async bug') })
  emitter.on('tick', (payload) => seen.push(payload))
  emitSafely(emitter, 'tick', 42, (error) => errors.push(error))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, [42])
  t.same(errors.map((error) => (error as Error).message), ['sync bug', 'async bug'])
  emitSafely(emitter, 'nobody-listens', 1, () => t.fail('no listener, no error'))
})
