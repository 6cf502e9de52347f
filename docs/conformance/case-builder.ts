import { createHash } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import { RECEIVER_ERRORS, SIGNING_ALGORITHMS, bodyDigest, type ReceiverErrorCode } from '@webhook-jwt/protocol'
import { signDeterministically, type VectorAlgorithm } from './deterministic-signatures.ts'
import type { ExpectedAnswer, ReceiverSettings, VectorCase, VectorKey, VectorRequest } from './vector-format.ts'

// The vocabulary the case catalogue is written in: a case, its tokens, its requests and their answers.

/** The frozen clock of every case: 2026-01-01T00:00:00Z. */
export const NOW = 1767225600
export const ISSUER = 'https://sender.example'
export const AUDIENCE = 'https://receiver.example/hooks'
/** The default body: JSON with characters outside ASCII, so that a digest over re-encoded text would show. */
export const BODY = Buffer.from('{"type":"invoice.paid","invoice":"in_1042","amount":4200,"customer":"Zoë Ångström"}')

/** The receiver every case starts from: the protocol's defaults, every protocol algorithm allowed. */
export const RECEIVER: ReceiverSettings = {
  issuer: ISSUER,
  audience: [AUDIENCE],
  algorithms: [...SIGNING_ALGORITHMS],
  clockTolerance: 30,
  maxTokenAge: 300,
  maxTokenBytes: 8192,
  header: 'authorization',
  jwksCooldown: 30,
  deduplicate: false
}

/** Marks a header member or claim to leave out. */
export const OMIT = Symbol('omit')

type Members = Record<string, unknown>

/** Base64url without padding: the JWS encoding. */
export const b64url = (bytes: string | Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** `{ ...base, ...overrides }` with the `OMIT`ted members removed, in the order they come. */
function merge (base: Members, overrides: Members): Members {
  const merged: Members = { ...base, ...overrides }
  for (const [name, value] of Object.entries(merged)) if (value === OMIT) delete merged[name]
  return merged
}

/** What a token is made of; any part can be replaced by raw text or bytes for the malformed cases. */
export interface TokenSpec {
  /** The key whose kid and alg the header names, and which signs. Default `es256`. */
  key?: string
  header?: Members
  claims?: Members
  /** Raw header or claims bytes instead of JSON built from `header` or `claims`. */
  headerBytes?: string | Uint8Array
  claimsBytes?: string | Uint8Array
  /** The body the default `body_sha256` covers. Default `BODY`. */
  body?: Uint8Array
  /** The key that signs, when it is not `key`. */
  signer?: string
  /** The algorithm it signs with, when it is not the header's `alg`. */
  signAlg?: VectorAlgorithm
  /** For HS256: the secret. */
  secret?: Uint8Array
}

export interface SendOptions {
  body?: Uint8Array
  /** Replaces the token header's value; `null` leaves the header out. */
  headerValue?: string | null
  /** The header name carrying the token, when it is not the receiver's. */
  headerName?: string
  /** Extra request headers (or replacements). */
  headers?: Record<string, string>
  /** The token as the receiver must take it from these headers, when it is not the one sent. */
  token?: string | null
  hold?: true
  /** What a fresh receiver answers to this request alone, where it differs. */
  fresh?: Expectation
}

/** `'accepted'`, `'duplicate'`, or a code of the receiver's table. */
export type Expectation = 'accepted' | 'duplicate' | ReceiverErrorCode

/** One case being written: its environment and requests, with token helpers that know the fixed keys. */
export class CaseBuilder {
  receiver: ReceiverSettings = { ...RECEIVER }
  keySet: string | null = 'protocol'
  replayStore: 'up' | 'down' = 'up'
  load: 'normal' | 'shedding' = 'normal'
  readonly #requests: VectorRequest[] = []
  #serial = 0

  constructor (readonly id: string, readonly description: string, readonly keys: ReadonlyMap<string, VectorKey>) {}

  key (name: string): VectorKey {
    return this.keys.get(name) as VectorKey
  }

  /** A value unique to this case and call, the same on every run: jtis and webhook ids. */
  unique (prefix = ''): string {
    return prefix + createHash('sha256').update(`${this.id}#${this.#serial++}`).digest('base64url').slice(0, 22)
  }

  /** The protocol claims for `body`: issued 10 s before the frozen clock, living the 300 s the protocol says. */
  claims (overrides: Members = {}, body: Uint8Array = BODY): Members {
    const iat = NOW - 10
    return merge({ iss: ISSUER, aud: AUDIENCE, iat, exp: iat + 300, jti: this.unique(), webhook_id: this.unique('wh_'), body_sha256: bodyDigest(body) }, overrides)
  }

  header (keyName = 'es256', overrides: Members = {}): Members {
    const key = this.key(keyName)
    return merge({ alg: key.alg, kid: key.kid, typ: 'webhook+jwt' }, overrides)
  }

  /** Signs the exact segments given (however they are encoded) and appends the signature in base64url. */
  signSegments (headerSegment: string, claimsSegment: string, signer: string, alg: VectorAlgorithm, secret?: Uint8Array): string {
    const signingInput = `${headerSegment}.${claimsSegment}`
    return `${signingInput}.${b64url(this.signature(signingInput, signer, alg, secret))}`
  }

  signature (signingInput: string, signer: string, alg: VectorAlgorithm, secret?: Uint8Array): Buffer {
    return signDeterministically(alg, this.key(signer).privateJwk as JsonWebKey, signingInput, secret)
  }

  /** A compact token: the protocol header and claims with any overrides, signed. */
  token (spec: TokenSpec = {}): string {
    const keyName = spec.key ?? 'es256'
    const header = this.header(keyName, spec.header)
    const headerSegment = b64url(spec.headerBytes ?? JSON.stringify(header))
    const claimsSegment = b64url(spec.claimsBytes ?? JSON.stringify(this.claims(spec.claims, spec.body)))
    const alg = spec.signAlg ?? (typeof header.alg === 'string' && header.alg in SIGNERS ? header.alg as VectorAlgorithm : this.key(keyName).alg as VectorAlgorithm)
    return this.signSegments(headerSegment, claimsSegment, spec.signer ?? keyName, alg, spec.secret)
  }

  /** Adds a request carrying `token` (as `Bearer <token>` in Authorization, by default) and its expected answer. */
  send (token: string | null, expect: Expectation, options: SendOptions = {}): this {
    const body = options.body ?? BODY
    const name = options.headerName ?? this.receiver.header
    const value = options.headerValue === undefined ? (token === null ? null : name === 'authorization' ? `Bearer ${token}` : token) : options.headerValue
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(value === null ? {} : { [name]: value }) }
    const claims = token === null ? null : decodeClaims(token)
    // The unsigned mirror of webhook_id, for logs; only where the id fits an HTTP header as is.
    if (typeof claims?.webhook_id === 'string' && /^[\x21-\x7e]+$/.test(claims.webhook_id)) headers['webhook-id'] = claims.webhook_id
    Object.assign(headers, options.headers)
    const carried = options.token === undefined ? token : options.token
    const request: VectorRequest = {
      method: 'POST',
      headers,
      body: Buffer.from(body).toString('base64'),
      token: carried,
      ...(options.hold === undefined ? {} : { hold: options.hold }),
      expect: answer(expect, carried)
    }
    if (options.fresh !== undefined) request.expectFresh = answer(options.fresh, carried)
    this.#requests.push(request)
    return this
  }

  build (): VectorCase {
    return { id: this.id, description: this.description, receiver: this.receiver, keySet: this.keySet, replayStore: this.replayStore, load: this.load, requests: this.#requests }
  }
}

/** The algorithms `token()` can sign with by the header's name. */
const SIGNERS: Record<VectorAlgorithm, true> = { ES256: true, ES384: true, EdDSA: true, RS256: true, PS256: true, HS256: true }

/** The claims of a token this file built, or null when its payload is not a JSON object. */
function decodeClaims (token: string): Members | null {
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'))
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims as Members : null
  } catch {
    return null
  }
}

function answer (expect: Expectation, token: string | null): ExpectedAnswer {
  if (expect === 'duplicate') return { status: 200, duplicate: true }
  if (expect !== 'accepted') return { status: RECEIVER_ERRORS[expect].status, code: expect }
  const [header, claims] = (token as string).split('.').slice(0, 2).map((segment) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Members)
  return { status: 200, kid: (header as Members).kid as string, claims: claims as Members }
}
