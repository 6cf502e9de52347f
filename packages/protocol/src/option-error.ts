/**
 * A configuration mistake, found at registration. The message names the option and the rule it breaks.
 * `code` is `WEBHOOK_INVALID_OPTION`, or `WEBHOOK_UNSAFE_ROTATION` for rotation windows that would
 * let a receiver meet a key it cannot know yet.
 */
export class WebhookOptionError extends TypeError {
  readonly code: 'WEBHOOK_INVALID_OPTION' | 'WEBHOOK_UNSAFE_ROTATION'
  /** The option path, such as `rotation.publishLead`. */
  readonly option: string

  constructor (option: string, message: string, code: 'WEBHOOK_INVALID_OPTION' | 'WEBHOOK_UNSAFE_ROTATION' = 'WEBHOOK_INVALID_OPTION') {
    super(`"${option}" ${message}`)
    this.name = 'WebhookOptionError'
    this.code = code
    this.option = option
  }
}

/** Renders a rejected option value for an error message without echoing large or secret values. */
export function describeValue (value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/** An option that holds sub-options: an object, or `{}` when it is left out. */
export function objectOption (value: unknown, option: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WebhookOptionError(option, `must be an object (got ${describeValue(value)})`)
  return value as Record<string, unknown>
}

/** A count option: a whole number of at least 1, or `fallback` when it is left out. */
export function positiveInteger (value: unknown, fallback: number, option: string): number {
  const number = value ?? fallback
  if (!Number.isSafeInteger(number) || (number as number) < 1) throw new WebhookOptionError(option, `must be a whole number of at least 1 (got ${describeValue(number)})`)
  return number as number
}
