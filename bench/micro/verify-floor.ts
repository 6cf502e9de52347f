// Task child: the cost of one bare signature check with node:crypto (crypto.verify, synchronous) on a
// realistic webhook token, per algorithm. Bare route CPU + this is the floor for a verifying receiver.
import { verify } from 'node:crypto'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { readChildConfig, runAsTask } from '../harness/child-side.ts'
import type { MicroSchedule } from '../harness/bench-options.ts'
import { generateTestKey } from '../keys/test-keys.ts'
import { signBatch } from '../tokens/sign-tokens.ts'
import { measureOps, type OpsMeasure } from './measure-ops.ts'

export interface VerifyFloorConfig {
  algorithms: SigningAlgorithm[]
  schedule: MicroSchedule
}

function digestOf (algorithm: SigningAlgorithm): string | null {
  return algorithm === 'EdDSA' ? null : algorithm === 'ES384' ? 'sha384' : 'sha256'
}

runAsTask(async () => {
  const { algorithms, schedule } = readChildConfig<VerifyFloorConfig>()
  const floors: Record<string, OpsMeasure> = {}
  for (const algorithm of algorithms) {
    const key = await generateTestKey(algorithm)
    const batch = signBatch({ algorithm, kid: key.kid, privateJwk: key.privateJwk, issuer: 'http://127.0.0.1:1', audience: 'https://receiver.bench.invalid/hooks', ttlSec: 300 }, 0, 1)
    const token = Buffer.from(batch.bytes).toString('latin1')
    const cut = token.lastIndexOf('.')
    const signingInput = Buffer.from(token.slice(0, cut))
    const signature = Buffer.from(token.slice(cut + 1), 'base64url')
    const options = algorithm.startsWith('ES') ? { key: key.publicKey, dsaEncoding: 'ieee-p1363' as const } : key.publicKey
    const digest = digestOf(algorithm)
    if (!verify(digest, signingInput, options, signature)) throw new Error(`the ${algorithm} test token does not verify`)
    floors[algorithm] = await measureOps(() => verify(digest, signingInput, options, signature), 'sequential', schedule)
  }
  return floors
})
