import Fastify, { type FastifyInstance } from 'fastify'
import { DEFAULT_CLOCK_SKEW, DEFAULT_JWKS_MAX_AGE, DEFAULT_TOKEN_TTL, parseDuration, type SigningAlgorithm } from '@webhook-jwt/protocol'
import webhookProducer, { minimumRotationWaits, type KeyStore, type KeyTransitionEvent } from '@webhook-jwt/producer'
import type { RotationFlags } from './key-flags.ts'
import { storeError } from './key-store-target.ts'

/** The waits a rotation started with these flags would use, in seconds: the flag, or the producer's minimum. */
export function plannedWindows (flags: RotationFlags, store: KeyStore): { publishLead: number, retireAfter: number } {
  const minimum = minimumRotationWaits({
    jwksMaxAge: parseDuration(flags.jwksMaxAge ?? DEFAULT_JWKS_MAX_AGE, 'jwks.maxAge'),
    tokenTtl: parseDuration(flags.tokenTtl ?? DEFAULT_TOKEN_TTL, 'tokenTtl'),
    clockSkew: parseDuration(flags.clockSkew ?? DEFAULT_CLOCK_SKEW, 'clockSkew'),
    maxStaleness: store.maxStaleness ?? 0
  })
  return {
    publishLead: flags.publishLead === undefined ? minimum.publishLead : parseDuration(flags.publishLead, 'rotation.publishLead'),
    retireAfter: flags.retireAfter === undefined ? minimum.retireAfter : parseDuration(flags.retireAfter, 'rotation.retireAfter')
  }
}

/**
 * The producer plugin itself, on an app that never listens, over the operator's store: every step the CLI
 * takes is the producer's own code, validated and applied as a producer replica would (under the lease of a
 * shared store), and transitions are reported as they are stored. It signs nothing and starts no scheduled
 * rotation (`rotation.every: false`); while it runs, it applies the steps of a rotation that fall due.
 */
export async function openProducer (store: KeyStore, flags: RotationFlags, keyEncryptionKey: string | undefined, onTransition: (event: KeyTransitionEvent) => void): Promise<FastifyInstance> {
  // RSA keys of 4096 bits and more take seconds to generate at registration.
  const app = Fastify({ logger: false, pluginTimeout: 120_000 })
  app.register(webhookProducer, {
    issuer: 'webhook-jwt-cli',
    keyStore: store,
    ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }),
    ...(flags.algorithm === undefined ? {} : { algorithm: flags.algorithm as SigningAlgorithm }),
    ...(flags.rsaBits === undefined ? {} : { rsaModulusLength: Number(flags.rsaBits) }),
    ...(flags.tokenTtl === undefined ? {} : { tokenTtl: flags.tokenTtl }),
    ...(flags.clockSkew === undefined ? {} : { clockSkew: flags.clockSkew }),
    jwks: flags.jwksMaxAge === undefined ? {} : { maxAge: flags.jwksMaxAge },
    rotation: {
      every: false,
      ...(flags.publishLead === undefined ? {} : { publishLead: flags.publishLead }),
      ...(flags.retireAfter === undefined ? {} : { retireAfter: flags.retireAfter })
    }
  })
  // Loaded after the producer, and only if it loaded: a producer that fails to start is ready()'s error.
  app.register(async (withProducer) => { withProducer.webhooks.on('transition', onTransition) })
  try {
    await app.ready()
  } catch (error) {
    await app.close().catch(() => {})
    throw storeError(error)
  }
  return app
}
