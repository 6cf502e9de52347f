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

type Listener = (...args: never[]) => void

/** The `on`/`off` pair of a plugin API object: each forwards to `emitter` and returns the object, for chaining. */
export interface ListenerMethods<T> {
  on(this: T, event: string, listener: Listener): T
  off(this: T, event: string, listener: Listener): T
}

/**
 * Builds `on` and `off` for an API object whose events come from `emitter`, so the object can expose
 * typed overloads while one implementation serves every plugin.
 *
 * @example
 * const api = { status, ...listenerMethods<Api>(events) }
 */
export function listenerMethods<T> (emitter: EventEmitter): ListenerMethods<T> {
  return {
    on (event, listener) {
      emitter.on(event, listener as (...args: unknown[]) => void)
      return this
    },
    off (event, listener) {
      emitter.off(event, listener as (...args: unknown[]) => void)
      return this
    }
  }
}
