import type { EventEmitter } from 'node:events'

/**
 * Emits `event` to every listener, isolating each one: a listener that throws, or returns a promise that
 * rejects, is reported through `onListenerError` and never reaches the caller, so a metrics bug cannot undo
 * or interrupt the work being reported.
 */
export function emitSafely (emitter: EventEmitter, event: string, payload: unknown, onListenerError: (error: unknown) => void): void {
  for (const listener of emitter.listeners(event)) {
    try {
      const result: unknown = listener(payload)
      if (result instanceof Promise) result.catch(onListenerError)
    } catch (error) {
      onListenerError(error)
    }
  }
}
