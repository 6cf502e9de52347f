/**
 * Time as the plugins see it. The default is the system clock; tests and simulations inject their own
 * (see `createManualClock`) so that schedules of days run in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Calls `callback` after `ms` milliseconds. The handle must not keep the process alive. */
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The real clock; its timers are `unref()`ed so they never keep a process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout (callback, ms) {
    const handle = setTimeout(callback, ms)
    handle.unref()
    return handle
  },
  clearTimeout (handle) {
    clearTimeout(handle as NodeJS.Timeout)
  }
}

/** Node fires a timer longer than 2^31-1 ms at once, so longer waits are taken in steps of at most this. */
export const MAX_TIMER_STEP_MS = 2 ** 31 - 1

/**
 * Calls `callback` once `clock.now()` has reached `atMs`, however far away that is and even if timers
 * fire early. Returns a function that cancels the call.
 *
 * @example
 * const cancel = callAt(systemClock, Date.now() + 40 * 86400_000, rotate) // 40 days: more than one timer can hold
 */
export function callAt (clock: Clock, atMs: number, callback: () => void): () => void {
  let handle: unknown
  let cancelled = false
  const arm = (): void => {
    const wait = atMs - clock.now()
    if (wait <= 0) {
      callback()
      return
    }
    handle = clock.setTimeout(() => {
      if (!cancelled) arm()
    }, Math.min(wait, MAX_TIMER_STEP_MS))
  }
  arm()
  return () => {
    cancelled = true
    clock.clearTimeout(handle)
  }
}

/** A clock that only moves when told to: `advance(ms)` runs every timer that falls due, in order. */
export interface ManualClock extends Clock {
  advance(ms: number): void
  /** How many timers are waiting. */
  readonly pending: number
}

/**
 * Creates a clock for tests and simulations. Timers run synchronously inside `advance`, in the order
 * they fall due; a timer set by a timer runs in the same `advance` if it falls due within it.
 *
 * @example
 * const clock = createManualClock(Date.parse('2026-01-01T00:00:00Z'))
 * clock.advance(30 * 86400_000) // thirty days pass
 */
export function createManualClock (startMs = 0): ManualClock {
  let nowMs = startMs
  let sequence = 0
  const timers = new Map<number, { at: number, callback: () => void }>()
  return {
    now: () => nowMs,
    setTimeout (callback, ms) {
      const id = ++sequence
      timers.set(id, { at: nowMs + Math.max(0, ms), callback })
      return id
    },
    clearTimeout (handle) {
      timers.delete(handle as number)
    },
    advance (ms) {
      const target = nowMs + ms
      for (;;) {
        let nextId: number | undefined
        let nextAt = Infinity
        for (const [id, timer] of timers) {
          if (timer.at < nextAt || (timer.at === nextAt && nextId !== undefined && id < nextId)) {
            nextId = id
            nextAt = timer.at
          }
        }
        if (nextId === undefined || nextAt > target) break
        const timer = timers.get(nextId) as { callback: () => void }
        timers.delete(nextId)
        nowMs = nextAt
        timer.callback()
      }
      nowMs = target
    },
    get pending () {
      return timers.size
    }
  }
}
