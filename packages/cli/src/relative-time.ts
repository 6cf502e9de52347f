import { formatDuration } from '@webhook-jwt/protocol'

/** An absolute time as operators compare it across machines: ISO 8601 in UTC, to the second. */
export function isoTime (ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/** `ms` relative to `nowMs`, in whole seconds: `3m ago`, `in 1h5m`, `0s ago`. */
export function relativeTime (ms: number, nowMs: number): string {
  const seconds = Math.round((ms - nowMs) / 1000)
  const span = formatDuration(Math.abs(seconds))
  return seconds <= 0 ? `${span} ago` : `in ${span}`
}

/** Both: `2026-11-22T10:00:00Z (3m ago)`. */
export function describeTime (ms: number, nowMs: number): string {
  return `${isoTime(ms)} (${relativeTime(ms, nowMs)})`
}
