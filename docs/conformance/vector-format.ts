import type { JWK } from 'jose'
import type { ReceiverErrorCode, SigningAlgorithm } from '@webhook-jwt/protocol'

// The shape of vectors.json, as README.md in this folder describes it.

/** The whole file. */
export interface ConformanceVectors {
  /** The version of docs/protocol.md these vectors hold receivers to. */
  protocolVersion: number
  description: string
  /** The frozen clock: every request of every case arrives at this time, in seconds since the epoch. */
  now: number
  /** How every key set is served: its `Cache-Control`. */
  keySetCacheControl: string
  /** The fixed keys, by name: the private JWK (to sign new cases) and the public one, with its RFC 7638 kid. */
  keys: Record<string, VectorKey>
  /** The key-set documents a case can serve, by name, exactly as served (some are deliberately wrong). */
  keySets: Record<string, unknown>
  cases: VectorCase[]
}

export interface VectorKey {
  /** The algorithm the key signs with, as published. */
  alg: string
  kid: string
  publicJwk: JWK
  privateJwk: JWK
}

/** What the receiver is configured with. Durations in seconds. */
export interface ReceiverSettings {
  issuer: string
  /** Every audience the receiver answers to. */
  audience: string[]
  /** The algorithm allowlist. */
  algorithms: SigningAlgorithm[]
  clockTolerance: number
  /** The longest lifetime (`exp − iat`) accepted. */
  maxTokenAge: number
  /** The longest compact token accepted, in bytes. */
  maxTokenBytes: number
  /** The request header that carries the token: `authorization` (as `Bearer <token>`), or another (the bare token). */
  header: string
  /** The shortest time between two fetches of the key set. */
  jwksCooldown: number
  /** Whether the receiver deduplicates on `webhook_id` (answering repeats `200 { duplicate: true }`). */
  deduplicate: boolean
}

/** One case: a fresh receiver, its environment, and the requests it gets in order. */
export interface VectorCase {
  /** `<check>/<what>`: the check exercised, then the case. Unique. */
  id: string
  description: string
  receiver: ReceiverSettings
  /** The name of the key set its JWKS endpoint serves; `null`: the endpoint is down (answers 503). */
  keySet: string | null
  /** `down`: the replay store fails every call. */
  replayStore: 'up' | 'down'
  /** `shedding`: the receiver is overloaded and sheds every request. */
  load: 'normal' | 'shedding'
  requests: VectorRequest[]
}

export interface VectorRequest {
  method: 'POST'
  /** The request headers, names in lower case. */
  headers: Record<string, string>
  /** The exact body bytes, in base64 (RFC 4648 §4, padded). */
  body: string
  /** The compact token the headers carry under the receiver's `header` rule; `null` when they carry none it can take. */
  token: string | null
  /** The handler of this request finishes only once the next request of the case has been answered. */
  hold?: true
  expect: ExpectedAnswer
  /** What a fresh receiver (empty caches, stores up, not shedding) answers to this request alone, where it differs from `expect`. */
  expectFresh?: ExpectedAnswer
}

/** Accepted: `200`, the key that signed it and every verified claim. */
export interface AcceptedAnswer {
  status: 200
  kid: string
  claims: Record<string, unknown>
}

/** A repeat of a handled `webhook_id`, answered without the handler. */
export interface DuplicateAnswer {
  status: 200
  duplicate: true
}

/** Refused: the status and the code of docs/protocol.md §4. A 503 always carries `Retry-After`. */
export interface RefusedAnswer {
  status: 400 | 401 | 503
  code: ReceiverErrorCode
}

export type ExpectedAnswer = AcceptedAnswer | DuplicateAnswer | RefusedAnswer
