/** 12,345 */
export function whole (value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en') : '–'
}

/** One decimal for small values, none for large ones. */
export function micros (value: number): string {
  if (!Number.isFinite(value)) return '–'
  return value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString('en')
}

/** `a / b` as "1.23×", or "–" when either is missing. */
export function ratio (a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–'
  return `${(a / b).toFixed(2)}×`
}

export function mib (value: number): string {
  return `${value >= 0 ? '' : '−'}${Math.abs(value).toFixed(1)}`
}
