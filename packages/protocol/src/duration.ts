import { WebhookOptionError, describeValue } from './option-error.ts'

/**
 * A duration in seconds: a number (`300`), or a string with a unit (`'500ms'`, `'90s'`, `'10m'`, `'2h'`, `'30d'`, `'1w'`).
 * Seconds are the unit of JWT NumericDates and of `Cache-Control`, so every option of every package uses them.
 */
export type Duration = number | string

/** The longest duration any option takes: ten years. Longer values are mistakes, and overflow dates. */
export const MAX_DURATION_SECONDS = 3650 * 86400

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/

/**
 * Reads a duration option into seconds, or throws a `WebhookOptionError` naming the option.
 *
 * @param value - the option as the user gave it
 * @param option - the option's name, for the error message
 * @param rule - `integer` for values that end up in a header or a NumericDate, which take whole seconds
 * @example
 * parseDuration('10m', 'jwks.maxAge') // 600
 * parseDuration(1.5, 'clockSkew') // 1.5
 */
export function parseDuration (value: unknown, option: string, rule: 'any' | 'integer' = 'any'): number {
  let seconds: number | undefined
  if (typeof value === 'number') {
    seconds = value
  } else if (typeof value === 'string') {
    const match = DURATION_PATTERN.exec(value.trim())
    if (match !== null) seconds = Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] as number)
  }
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    throw new WebhookOptionError(option, `must be a duration in seconds: a number of seconds or a string such as '90s', '10m' or '1h' (got ${describeValue(value)})`)
  }
  if (seconds > MAX_DURATION_SECONDS) throw new WebhookOptionError(option, `must be at most ten years (got ${describeValue(value)})`)
  // Float units ('0.1m') can land a hair off a whole number; round to the millisecond we can represent.
  seconds = Math.round(seconds * 1000) / 1000
  if (rule === 'integer' && !Number.isInteger(seconds)) {
    throw new WebhookOptionError(option, `must be a whole number of seconds (got ${describeValue(value)})`)
  }
  return seconds
}

/**
 * Formats seconds for logs and messages: `600` → `'10m'`, `90` → `'1m30s'`, `1.5` → `'1.5s'`.
 */
export function formatDuration (seconds: number): string {
  if (seconds < 60 || !Number.isInteger(seconds)) return `${Number(seconds.toFixed(3))}s`
  const parts: string[] = []
  let rest = seconds
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const whole = Math.floor(rest / size)
    if (whole > 0) parts.push(`${whole}${unit}`)
    rest -= whole * size
  }
  return parts.join('')
}
