import type { JWK } from 'jose'

/** The members a published key may carry. Anything else (`d`, `p`, `q`, `dp`, `dq`, `qi`, `k`, `oth`…) is dropped. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
  RSA: ['n', 'e']
}

/** A public JWK as the JWKS publishes it. */
export interface PublishedJwk extends JWK {
  kty: 'EC' | 'OKP' | 'RSA'
  kid: string
  alg: string
  use: 'sig'
}

/**
 * Copies only the public members of an asymmetric JWK, by allowlist, and labels it for signature use.
 * Throws a `TypeError` for a key type that has no public half (`oct`) or that the protocol does not use.
 *
 * @example
 * toPublishedJwk(privateJwk, { kid, alg: 'ES256' }) // { kty: 'EC', crv, x, y, kid, alg: 'ES256', use: 'sig' }
 */
export function toPublishedJwk (jwk: JWK, { kid, alg }: { kid: string, alg: string }): PublishedJwk {
  const kty = jwk.kty
  const members = kty === undefined ? undefined : PUBLIC_MEMBERS[kty]
  if (members === undefined) throw new TypeError(`a ${String(kty)} key cannot be published: only EC, OKP and RSA keys have a public half`)
  const published: Record<string, string> = { kty: kty as string }
  for (const member of members) {
    const value = (jwk as Record<string, unknown>)[member]
    if (typeof value !== 'string') throw new TypeError(`a ${String(kty)} key needs the member "${member}"`)
    published[member] = value
  }
  return { ...published, kid, alg, use: 'sig' } as PublishedJwk
}
