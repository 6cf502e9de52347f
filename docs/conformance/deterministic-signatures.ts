import { constants, createHash, createHmac, createPrivateKey, privateEncrypt, sign, type JsonWebKey, type KeyObject } from 'node:crypto'
import { p256, p384 } from '@noble/curves/nist.js'

// Signatures that come out the same on every run, so that regenerating the vectors changes nothing unless a
// case changed. Ed25519 (RFC 8032) and RSASSA-PKCS1-v1_5 are deterministic as node:crypto computes them.
// node:crypto's ECDSA picks a random nonce, so ES256 and ES384 are signed with @noble/curves, which derives
// it from the key and the message (RFC 6979). PSS salts at random in node:crypto, so PS256 is encoded here
// (EMSA-PSS, RFC 8017 §9.1.1) with a salt derived from the message, then signed with the raw RSA operation.
// A verifier cannot tell a derived salt from a random one: PSS verification recovers whatever salt was used.

/** A signing algorithm of the vectors: the protocol's five, and HS256 for the confusion cases. */
export type VectorAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256' | 'HS256'

const PSS_SALT_BYTES = 32

/** MGF1 with SHA-256 (RFC 8017 B.2.1). */
function mgf1 (seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = []
  for (let counter = 0; blocks.length * 32 < length; counter++) {
    const suffix = Buffer.alloc(4)
    suffix.writeUInt32BE(counter)
    blocks.push(createHash('sha256').update(seed).update(suffix).digest())
  }
  return Buffer.concat(blocks).subarray(0, length)
}

/** EMSA-PSS-ENCODE with SHA-256, MGF1-SHA-256 and a 32-byte salt, for a modulus of `modulusBits`. */
function pssEncode (message: Buffer, salt: Buffer, modulusBits: number): Buffer {
  const emBits = modulusBits - 1
  const emLength = Math.ceil(emBits / 8)
  const messageHash = createHash('sha256').update(message).digest()
  const h = createHash('sha256').update(Buffer.alloc(8)).update(messageHash).update(salt).digest()
  const db = Buffer.concat([Buffer.alloc(emLength - salt.length - h.length - 2), Buffer.from([0x01]), salt])
  const maskedDb = Buffer.from(mgf1(h, db.length).map((byte, index) => byte ^ (db[index] as number)))
  maskedDb[0] = (maskedDb[0] as number) & (0xff >> (8 * emLength - emBits))
  return Buffer.concat([maskedDb, h, Buffer.from([0xbc])])
}

function privateKeyOf (jwk: JsonWebKey): KeyObject {
  return createPrivateKey({ key: jwk, format: 'jwk' })
}

/**
 * Signs `signingInput` (the first two segments of a JWS, as sent) with a private JWK, deterministically.
 * HS256 takes `secret` as its key (the confusion cases use a public key's bytes).
 */
export function signDeterministically (alg: VectorAlgorithm, jwk: JsonWebKey, signingInput: string, secret?: Uint8Array): Buffer {
  const input = Buffer.from(signingInput)
  switch (alg) {
    case 'ES256':
    case 'ES384': {
      // The curve is the key's and the hash the algorithm's, so that a P-256 key can sign "ES384" for the
      // case where a receiver must refuse an algorithm its key is not for (the signature itself is valid).
      const curve = jwk.crv === 'P-384' ? p384 : p256
      const digest = createHash(alg === 'ES384' ? 'sha384' : 'sha256').update(input).digest()
      return Buffer.from(curve.sign(digest, Buffer.from(jwk.d as string, 'base64url'), { prehash: false }))
    }
    case 'EdDSA':
      return sign(null, input, privateKeyOf(jwk))
    case 'RS256':
      return sign('sha256', input, privateKeyOf(jwk))
    case 'PS256': {
      const key = privateKeyOf(jwk)
      const bits = (key.asymmetricKeyDetails as { modulusLength: number }).modulusLength
      const salt = createHash('sha256').update('webhook-jwt conformance PSS salt').update(input).digest().subarray(0, PSS_SALT_BYTES)
      const encoded = pssEncode(input, salt, bits)
      // The raw operation takes exactly the modulus's length; the encoding is one byte shorter when bits ≡ 1 (mod 8).
      return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(Math.ceil(bits / 8) - encoded.length), encoded]))
    }
    case 'HS256':
      return createHmac('sha256', secret as Uint8Array).update(input).digest()
  }
}
