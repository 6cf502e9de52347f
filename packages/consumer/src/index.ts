import { EventEmitter } from 'node:events'
import { Transform } from 'node:stream'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { bodyDigest, digestsMatch, emitSafely, listenerMethods } from '@webhook-jwt/protocol'
import { WebhookVerificationError } from './errors.ts'
import { RemoteKeySet, type KeySetFetchEvent, type KeySetStatus } from './key-set/remote-key-set.ts'
import { readConsumerOptions, type WebhookConsumerOptions } from './options.ts'
import { sendRefusal } from './respond.ts'
import { extractToken, verifyToken, type VerifiedToken } from './verify/verify-token.ts'
import { recheckTimes } from './token/check-claims.ts'
import { DuplicateCheck, type DuplicateKeys } from './replay/duplicate-check.ts'

/** What a verified request carries in `request.webhook`. */
export interface VerifiedWebhook {
  /** The `webhook_id`: the same on every retry of one event. Deduplicate on it. */
  id: string
  /** The sender (`iss`), as configured. */
  issuer: string
  /** The key that signed it. */
  kid: string
  /** Every claim of the token. */
  claims: Record<string, unknown>
}

/** Reported for every verification, accepted or not. */
export interface VerificationEvent {
  outcome: 'accepted' | 'rejected'
  /** The error code, for rejections. */
  code?: string
  status: number
  issuer?: string
  kid?: string
  /** `true` for a verified repeat of a handled `webhook_id`, answered without the handler (`deduplicate`). */
  duplicate?: true
  /** `true` for a webhook accepted without the replay or duplicate check, its store having failed (`replayStoreFailure: 'accept'`). */
  unchecked?: true
  durationMs: number
}

/** The consumer's API, at `app.webhookConsumer`. */
export interface WebhookConsumer {
  /** Each issuer's key set: kids, last fetch, freshness, last error. */
  status(): KeySetStatus[]
  /** True when every issuer's key set can verify (fresh, or stale within `jwks.maxStale`). */
  healthy(): boolean
  /** `verification`: every accepted or rejected webhook. `keySetFetch`: every fetch, and every unknown kid a cooldown held back. */
  on(event: 'verification', listener: (event: VerificationEvent) => void): this
  on(event: 'keySetFetch', listener: (event: KeySetFetchEvent) => void): this
  off(event: 'verification' | 'keySetFetch', listener: (...args: never[]) => void): this
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The preHandler that verifies a webhook. List it in the route's own `preHandler` option (or set
     * `config: { webhook: true }`) so the token is checked before the body is read and the body is hashed
     * as it arrives.
     *
     * @example
     * app.post('/hooks', { preHandler: app.verifyWebhook }, async (request) => handle(request.webhook.id, request.body))
     */
    verifyWebhook: preHandlerAsyncHookHandler
    webhookConsumer: WebhookConsumer
  }
  interface FastifyRequest {
    /** Set on routes that verify webhooks, once the webhook is verified; `null` otherwise. */
    webhook: VerifiedWebhook | null
  }
  interface FastifyContextConfig {
    /** `true`: verify webhooks on this route (same as listing `app.verifyWebhook` in its preHandler). */
    webhook?: boolean
  }
}

/** Per-request progress, kept in a request slot that is `null` on every other route. */
interface Verification {
  startedAt: number
  token: VerifiedToken | null
  digest: string | null
  /** The duplicate-check keys this request claimed, to release once it is answered. */
  claimed: DuplicateKeys | null
}

const kVerification = Symbol('webhook-jwt.verification')
const EMPTY_BODY_DIGEST = bodyDigest('')
/** Seconds a sender waits when the replay check cannot run. */
export const REPLAY_RETRY_AFTER = 5
/** How long registration waits for the first key sets before letting the app start without them. */
export const WARM_UP_WAIT_MS = 5000

type RequestWithState = FastifyRequest & { [kVerification]: Verification | null }

/** What a store call resolves to when the store failed and `replayStoreFailure` is `'accept'`. */
const UNCHECKED = Symbol('webhook-jwt.unchecked')

/** Whether the request announced a body (RFC 9112 §6.3: a Content-Length above zero, or chunked). */
function hasBody (request: FastifyRequest): boolean {
  return Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined
}

function hooksOf<T> (value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

async function webhookConsumer (fastify: FastifyInstance, options: WebhookConsumerOptions): Promise<void> {
  const settings = readConsumerOptions(options)
  const events = new EventEmitter()
  const log = fastify.log
  // A listener's bug must neither fail a verification nor stop a fetch from being used.
  const notify = (event: string, payload: unknown): void => {
    emitSafely(events, event, payload, (error) => log.error({ err: error, event }, 'a webhook consumer event listener failed'))
  }

  if (settings.replayStoreFailure === 'accept') {
    log.warn({ replayStoreFailure: 'accept' }, 'webhook consumer fails OPEN: while its replay store (or deduplicate store) fails, webhooks are accepted without that check: a captured token can then be replayed, a handled webhook_id handled again')
  }
  const duplicates = settings.deduplicate === null ? null : new DuplicateCheck(settings.deduplicate.store, settings.deduplicate.windowSec, settings.deduplicate.processingSec)
  const keySets = new Map([...settings.issuers.values()].map((issuer) => [issuer.issuer, new RemoteKeySet(issuer, settings.jwks, settings.clock, (event) => {
    if (event.outcome === 'failed') log.warn({ issuer: event.issuer, reason: event.reason, error: event.error, stale: event.stale }, event.stale ? 'webhook key set refresh failed; verifying known kids from the last good set' : 'webhook key set fetch failed')
    notify('keySetFetch', event)
  })]))

  function report (request: FastifyRequest, state: Verification, outcome: Omit<VerificationEvent, 'durationMs'>): void {
    const event: VerificationEvent = { ...outcome, durationMs: settings.clock.now() - state.startedAt }
    if (outcome.outcome === 'rejected') request.log.info({ code: event.code, issuer: event.issuer, kid: event.kid }, 'webhook rejected')
    notify('verification', event)
  }

  async function refuse (request: FastifyRequest, reply: FastifyReply, state: Verification, error: unknown): Promise<FastifyReply> {
    // Only coded verification errors are answered here; anything else is a bug, and goes to Fastify's error handler.
    if (!(error instanceof WebhookVerificationError)) throw error
    report(request, state, { outcome: 'rejected', code: error.code, status: error.statusCode, ...(state.token === null ? {} : { issuer: state.token.issuer.issuer, kid: state.token.kid }) })
    return await sendRefusal(reply, error)
  }

  /**
   * A replay-store call. A failure is logged and answered 503; with `replayStoreFailure: 'accept'`, it is
   * logged as an error naming the token, and resolves `UNCHECKED`: the request goes on without this check.
   */
  async function storeCall<T> (request: FastifyRequest, token: VerifiedToken, check: 'replay' | 'duplicate', call: () => Promise<T>): Promise<T | typeof UNCHECKED> {
    try {
      return await call()
    } catch (error) {
      if (settings.replayStoreFailure === 'accept') {
        request.log.error({ err: error, check, issuer: token.issuer.issuer, jti: token.jti, webhookId: token.webhookId }, `webhook ${check} check store failed; ACCEPTING the webhook UNCHECKED (replayStoreFailure: 'accept')`)
        return UNCHECKED
      }
      request.log.error({ err: error }, 'webhook replay store failed; answering 503')
      throw new WebhookVerificationError('WEBHOOK_REPLAY_STORE_UNAVAILABLE', REPLAY_RETRY_AFTER)
    }
  }

  /** onRequest: the token, before the body is read. */
  async function checkToken (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const state: Verification = { startedAt: settings.clock.now(), token: null, digest: null, claimed: null }
    ;(request as RequestWithState)[kVerification] = state
    try {
      state.token = await verifyToken(extractToken(request.headers[settings.header] as string | undefined, settings.header), settings, keySets)
    } catch (error) {
      return await refuse(request, reply, state, error)
    }
    return undefined
  }

  /** preParsing: hash the body bytes as they stream in, so the parser reads exactly what was hashed. */
  async function hashBody (request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> {
    const state = (request as RequestWithState)[kVerification] as Verification
    const hash = createHash('sha256')
    const hashing = new Transform({
      transform (chunk: Buffer, _encoding, done) {
        hash.update(chunk)
        done(null, chunk)
      },
      flush (done) {
        state.digest = hash.digest('base64url')
        done()
      }
    })
    // pipe, not pipeline: pipeline's per-call abort controller and end-of-stream watchers cost more than the
    // hash. An error of the request stream (a client that hangs up) is passed on to the parser through it.
    payload.on('error', (error) => hashing.destroy(error))
    // The parser listens for that error. On GET, HEAD, TRACE… no parser reads the stream, and an error left
    // unheard would crash the process: a sender that hangs up inside a body nobody reads is nothing to report.
    hashing.on('error', () => {})
    return payload.pipe(hashing)
  }

  /** preHandler: the body digest and the replay check, then `request.webhook`. */
  const verifyWebhook: preHandlerAsyncHookHandler = async function verifyWebhook (request, reply) {
    const state = (request as RequestWithState)[kVerification]
    // Setup mistakes, not request input: each is a 500 with a message that says how to fix the route.
    if (state === null) {
      throw new Error('app.verifyWebhook must be listed in the route\'s own preHandler option, or the route must set config.webhook: true')
    }
    if (request.webhook !== null) throw new Error('app.verifyWebhook ran twice on this route: list it once, as a route option or config.webhook, not also as a hook')
    const bodyUnread = state.digest === null && hasBody(request)
    // Fastify parses no body on GET, HEAD, TRACE or a method added without hasBody, and leaves request.body
    // undefined: that is request input. A parser that ran and set a body without reading the stream is not.
    if (bodyUnread && request.body !== undefined) {
      throw new Error('the body was not read before app.verifyWebhook ran (a content-type parser that passes the stream through): it cannot be checked against body_sha256')
    }
    const token = state.token as VerifiedToken
    let unchecked = false
    try {
      // A body nobody reads can be neither checked against body_sha256 nor handled.
      if (bodyUnread) throw new WebhookVerificationError('WEBHOOK_BODY_NOT_ALLOWED')
      const now = settings.clock.now()
      // The body may have come long after the headers were checked (a connection held open): the token must
      // still be valid now, so the replay store is never asked to keep an id whose token has expired.
      recheckTimes(token.claims, settings, now / 1000)
      if (token.bodySha256 !== undefined && !digestsMatch(state.digest ?? EMPTY_BODY_DIGEST, token.bodySha256)) {
        throw new WebhookVerificationError('WEBHOOK_BODY_DIGEST_MISMATCH')
      }
      // JSON keeps issuer and jti apart whatever characters they hold. `now` is the reading the times were
      // checked at, so the store is told an expiry after it.
      const firstTime = await storeCall(request, token, 'replay', async () => await settings.replayStore.remember(JSON.stringify([token.issuer.issuer, token.jti]), (token.exp + settings.clockToleranceSec) * 1000, now))
      if (!firstTime) throw new WebhookVerificationError('WEBHOOK_REPLAYED')
      unchecked = firstTime === UNCHECKED
      if (duplicates !== null) {
        const keys = DuplicateCheck.keys(token.issuer.issuer, token.webhookId)
        const status = await storeCall(request, token, 'duplicate', async () => await duplicates.claim(keys, settings.clock.now()))
        if (status === 'in-progress') throw new WebhookVerificationError('WEBHOOK_DELIVERY_IN_PROGRESS', REPLAY_RETRY_AFTER)
        if (status === 'duplicate') {
          report(request, state, { outcome: 'accepted', status: 200, issuer: token.issuer.issuer, kid: token.kid, duplicate: true, ...(unchecked ? { unchecked } : {}) })
          return await reply.code(200).send({ duplicate: true, id: token.webhookId })
        }
        // Failed open: nothing was claimed, so there is nothing to release.
        if (status === UNCHECKED) unchecked = true
        else state.claimed = keys
      }
    } catch (error) {
      return await refuse(request, reply, state, error)
    }
    request.webhook = { id: token.webhookId, issuer: token.issuer.issuer, kid: token.kid, claims: token.claims }
    report(request, state, { outcome: 'accepted', status: 200, issuer: token.issuer.issuer, kid: token.kid, ...(unchecked ? { unchecked } : {}) })
  }

  /**
   * onSend, with `deduplicate`: the handler's answer decides; a handled id is kept only if it was 2xx.
   * onSend, not onResponse: it runs even when the sender hung up while the handler worked, so the claim
   * never outlives the handling.
   */
  async function releaseClaim (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const state = (request as RequestWithState)[kVerification] as Verification
    if (state.claimed === null) return payload
    const keys = state.claimed
    state.claimed = null
    try {
      await (duplicates as DuplicateCheck).release(keys, reply.statusCode >= 200 && reply.statusCode < 300, settings.clock.now())
    } catch (error) {
      request.log.error({ err: error, webhookId: request.webhook?.id }, 'webhook duplicate check could not release its claim; retries of this webhook_id get 503 until its processing timeout')
    }
    return payload
  }

  fastify.decorateRequest('webhook', null)
  fastify.decorateRequest(kVerification as unknown as string, null)
  fastify.decorate('verifyWebhook', verifyWebhook)
  fastify.decorate('webhookConsumer', {
    status: () => [...keySets.values()].map((keySet) => keySet.status()),
    healthy: () => [...keySets.values()].every((keySet) => keySet.status().usable),
    ...listenerMethods<WebhookConsumer>(events)
  } satisfies WebhookConsumer)

  fastify.addHook('onRoute', (route: RouteOptions) => {
    const preHandlers = hooksOf(route.preHandler)
    const listed = preHandlers.includes(verifyWebhook)
    if (!listed && route.config?.webhook !== true) return
    route.onRequest = [checkToken, ...hooksOf(route.onRequest)]
    route.preParsing = [...hooksOf(route.preParsing), hashBody]
    if (!listed) route.preHandler = [verifyWebhook, ...preHandlers]
    if (duplicates !== null) route.onSend = [releaseClaim, ...hooksOf(route.onSend)]
  })

  // Warm the caches now, so the first webhooks do not wait on a fetch and a health check made while the app
  // starts (under-pressure makes one at registration) sees the sets. A sender that is down does not stop
  // startup: it is waited for WARM_UP_WAIT_MS at most (well inside Fastify's plugin timeout), then the
  // fetch goes on in the background.
  await Promise.race([
    Promise.all([...keySets.values()].map(async (keySet) => await keySet.refresh('startup'))),
    new Promise((resolve) => setTimeout(resolve, WARM_UP_WAIT_MS).unref())
  ])
  fastify.addHook('onClose', async () => {
    for (const keySet of keySets.values()) keySet.close()
    await settings.replayStore.close?.()
    // The duplicate check's store is closed too, once, whether or not it is the replay store.
    if (settings.deduplicate !== null && settings.deduplicate.store !== settings.replayStore) await settings.deduplicate.store.close?.()
  })
}

/**
 * A health check for `@fastify/under-pressure`: unhealthy when an issuer's key set cannot verify anything
 * (never fetched, or stale past `jwks.maxStale`).
 *
 * @example
 * await app.register(underPressure, { healthCheck: consumerHealthCheck, exposeStatusRoute: true })
 */
export async function consumerHealthCheck (fastify: FastifyInstance): Promise<boolean> {
  return fastify.webhookConsumer.healthy()
}

/**
 * A `pressureHandler` for `@fastify/under-pressure`: sheds load with the protocol's `WEBHOOK_OVERLOADED`
 * answer, 503 with `Retry-After`, so senders retry later instead of giving up.
 *
 * @example
 * await app.register(underPressure, { maxEventLoopDelay: 1000, pressureHandler: webhookPressureHandler(10) })
 */
export function webhookPressureHandler (retryAfterSeconds = 10): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (_request, reply) => {
    await sendRefusal(reply, new WebhookVerificationError('WEBHOOK_OVERLOADED', retryAfterSeconds))
  }
}

export const webhookConsumerPlugin = fp(webhookConsumer, { fastify: '5.x', name: '@webhook-jwt/consumer' })
export default webhookConsumerPlugin
export { webhookConsumerPlugin as webhookConsumer }
export { WebhookVerificationError } from './errors.ts'
// Registration refuses a bad option with this error; re-exported so an app can test for it without depending on the protocol package.
export { WebhookOptionError } from '@webhook-jwt/protocol'
export { JWKS_DEFAULTS, DEFAULT_MAX_TOKEN_BYTES, type WebhookConsumerOptions, type IssuerOptions } from './options.ts'
export { memoryReplayStore, ReplayStoreFullError, type ReplayStore, type MemoryReplayStoreOptions } from './replay/replay-store.ts'
export { MIN_CACHE_AGE_MS, FIRST_FETCH_BACKOFF_MS, type KeySetFetchEvent, type KeySetStatus, type FetchReason } from './key-set/remote-key-set.ts'
export { DEFAULT_DEDUPLICATE_WINDOW, DEFAULT_PROCESSING_TIMEOUT, type DuplicateStatus } from './replay/duplicate-check.ts'
export { explainWebhook, type WebhookExplanation, type WebhookCheck, type WebhookCheckName, type WebhookToExplain } from './verify/explain-webhook.ts'
export type { TokenCheckName } from './token/check-claims.ts'
export { parseCompactJws as decodeWebhookToken, type ParsedToken } from './token/compact-jws.ts'
export { readKeySetDocument, KeySetRefusedError, type VerificationKey } from './key-set/key-set-document.ts'
