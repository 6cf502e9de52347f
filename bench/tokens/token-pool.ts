import type { SignedBatch, SigningMaterial } from './sign-tokens.ts'
import type { TokenSigners } from './token-signers.ts'

/** Tokens are signed, kept and renewed in batches of this many. */
const BATCH = 5_000

/** A signed batch as kept: its bytes as a Buffer, to cut tokens out of. */
interface KeptBatch {
  bytes: Buffer
  offsets: Uint32Array
  minExp: number
}

/**
 * Pre-signed webhook tokens for one algorithm, all distinct (each has its own jti and body), kept in
 * compact batches rather than a million strings. Every contender runs in a fresh process, so each one can
 * be sent the same tokens from the start; the pool grows to what the fastest verifying contender needs.
 */
export class TokenPool {
  readonly #material: SigningMaterial
  readonly #signers: TokenSigners
  readonly #batches: Array<KeptBatch | undefined> = []
  #signingMs = 0

  constructor (material: SigningMaterial, signers: TokenSigners) {
    this.#material = material
    this.#signers = signers
  }

  get size (): number {
    return this.#batches.length * BATCH
  }

  /** Time spent signing so far (nothing is measured meanwhile). */
  get signingMs (): number {
    return this.#signingMs
  }

  async #sign (indexes: readonly number[]): Promise<void> {
    const started = performance.now()
    const batches = await Promise.all(indexes.map(async (batch) => await this.#signers.sign(this.#material, batch * BATCH, BATCH)))
    indexes.forEach((batch, i) => {
      const { bytes, offsets, minExp } = batches[i] as SignedBatch
      this.#batches[batch] = { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), offsets, minExp }
    })
    this.#signingMs += performance.now() - started
  }

  /** Grows the pool to at least `count` tokens. */
  async ensure (count: number): Promise<void> {
    const wanted = Math.ceil(count / BATCH)
    const missing: number[] = []
    for (let batch = this.#batches.length; batch < wanted; batch++) missing.push(batch)
    if (missing.length > 0) await this.#sign(missing)
  }

  /**
   * Signs again every batch from token `fromIndex` on that holds a token expiring before `validUntilMs`,
   * so that no contender is sent an expired token.
   */
  async renewExpiring (validUntilMs: number, fromIndex: number): Promise<void> {
    const expiring: number[] = []
    this.#batches.forEach((batch, index) => {
      if (batch !== undefined && (index + 1) * BATCH > fromIndex && batch.minExp * 1000 < validUntilMs) expiring.push(index)
    })
    if (expiring.length > 0) await this.#sign(expiring)
  }

  /** Frees the batches wholly before token `index`, which will not be sent again. */
  release (index: number): void {
    for (let batch = 0; (batch + 1) * BATCH <= index && batch < this.#batches.length; batch++) this.#batches[batch] = undefined
  }

  /** Token `index`, which covers webhook body `index`. */
  tokenAt (index: number): string {
    const batch = this.#batches[Math.floor(index / BATCH)]
    if (batch === undefined) throw new RangeError(`token ${index} is not in the pool (${this.size} signed, early ones maybe released)`)
    const offset = index % BATCH
    return batch.bytes.toString('latin1', batch.offsets[offset], batch.offsets[offset + 1])
  }
}

/**
 * Hands out pool indexes in order to one contender's process. Past the end of the pool it starts again at
 * 0, and counts how often: a verifying contender must never need that (the harness grows the pool after
 * the warm-up), the bare route, which ignores tokens, may.
 */
export class TokenCursor {
  readonly #pool: TokenPool
  #next = 0
  #reused = 0

  constructor (pool: TokenPool) {
    this.#pool = pool
  }

  /** The index after the last one handed out. */
  get position (): number {
    return this.#next
  }

  /** How many indexes were handed out a second time so far. */
  get reused (): number {
    return this.#reused
  }

  take (): number {
    if (this.#next >= this.#pool.size) {
      this.#reused++
      return this.#reused % this.#pool.size
    }
    return this.#next++
  }
}
