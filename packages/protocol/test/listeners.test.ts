import { EventEmitter } from 'node:events'
import t from 'tap'
import { emitSafely, listenerMethods } from '@webhook-jwt/protocol'

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

t.test('listenerMethods forwards on/off to the emitter and returns the API object', async (t) => {
  const emitter = new EventEmitter()
  const api = { name: 'api', ...listenerMethods<{ name: string }>(emitter) }
  const seen: unknown[] = []
  const listener = (value: unknown): void => { seen.push(value) }
  t.equal(api.on('tick', listener), api)
  emitter.emit('tick', 1)
  t.equal(api.off('tick', listener), api)
  emitter.emit('tick', 2)
  t.same(seen, [1])
})
