import type { JWK } from 'jose'

/**
 * The `kid` of a public key: its RFC 7638 SHA-256 thumbprint, base64url. One key never has two ids,
 * and one id never names two keys, so receivers can check a JWKS entry against its own `kid`.
 *
 * @example
 * await keyIdOf({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' })
 * // 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k' (RFC 8037 A.3)
 */
export async function keyIdOf (publicJwk: JWK): Promise<string> {
  // jose's one module, loaded at the first thumbprint: importing the protocol (as the CLI does to start) stays cheap.
  const { calculateJwkThumbprint } = await import('jose/jwk/thumbprint')
  return await calculateJwkThumbprint(publicJwk, 'sha256')
}
