import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose'

/**
 * The strictest receiver a rotation must survive: it fetches the JWKS, keeps it for exactly the
 * `max-age` the response announced (counted from when the response arrived), never refetches early,
 * and never refetches on an unknown kid. A token whose kid it lacks is a failure of the producer's
 * rotation timing, not a cache miss to paper over.
 */
export class CachingVerifier {
  fetches = 0
  #keys: JSONWebKeySet | null = null
  #expiresAt = 0
  readonly #jwksUrl: URL
  readonly #options: { issuer: string, audience: string, algorithms: string[] }

  constructor (jwksUrl: URL, options: { issuer: string, audience: string, algorithms: string[] }) {
    this.#jwksUrl = jwksUrl
    this.#options = options
  }

  async #keySet (): Promise<JSONWebKeySet> {
    if (this.#keys === null || Date.now() >= this.#expiresAt) {
      const response = await fetch(this.#jwksUrl)
      const maxAge = /max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1]
      if (response.status !== 200 || maxAge === undefined) throw new Error(`unexpected JWKS answer ${response.status}`)
      this.#keys = await response.json() as JSONWebKeySet
      this.#expiresAt = Date.now() + Number(maxAge) * 1000
      this.fetches++
    }
    return this.#keys
  }

  /** Verifies a token; `unknown-kid` when the cached set lacks its key. */
  async verify (token: string): Promise<{ ok: true, kid: string, payload: JWTPayload } | { ok: false, reason: 'unknown-kid' | 'invalid', kid: string | undefined, error?: unknown }> {
    const kid = decodeProtectedHeader(token).kid
    const keySet = await this.#keySet()
    if (!keySet.keys.some((key) => key.kid === kid)) return { ok: false, reason: 'unknown-kid', kid }
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(keySet), { typ: 'webhook+jwt', ...this.#options, requiredClaims: ['exp', 'iat', 'jti'] })
      return { ok: true, kid: kid as string, payload }
    } catch (error) {
      return { ok: false, reason: 'invalid', kid, error }
    }
  }
}
