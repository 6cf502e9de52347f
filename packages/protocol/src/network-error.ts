/**
 * The most specific name of a network failure from `fetch`: the system error code (ECONNREFUSED,
 * ECONNRESET…) when there is one, else the error's name. Safe for logs: no addresses, no bodies.
 */
export function networkErrorName (error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' ? cause.code : (error as Error).name
}
