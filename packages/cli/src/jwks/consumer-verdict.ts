import { JWKS_DEFAULTS, readKeySetDocument } from '@webhook-jwt/consumer'
import type { LoadedKeySet } from './load-key-set.ts'

/** What `@webhook-jwt/consumer`, with its default options, does with a key set. */
export interface ConsumerVerdict {
  /** Whether it takes the set; when it does not, it keeps verifying with the last set it took. */
  accepts: boolean
  /** Why it refuses the set, in its own words. */
  reason?: string
  /** The kids it would verify with, in the set's order. */
  usableKids: string[]
}

/** The media types the consumer's fetch accepts (key-set/fetch-jwks.ts). */
export const JSON_MEDIA_TYPE = /^application\/(?:jwk-set\+)?json\s*(?:;|$)/i

/**
 * A refusal of the answer itself, before its document is read: the checks the consumer's fetch makes on a 200.
 * The size counts for a file too, since a file is what gets served.
 */
function answerRefusal (loaded: LoadedKeySet): string | null {
  if ('url' in loaded.source && !JSON_MEDIA_TYPE.test(loaded.source.contentType ?? '')) return 'the key set endpoint answered with a media type other than JSON'
  if (loaded.bytes > JWKS_DEFAULTS.maxBytes) return `the key set is larger than jwks.maxBytes (${JWKS_DEFAULTS.maxBytes} bytes)`
  return null
}

/**
 * Runs the consumer's own code on the set (`readKeySetDocument`, with the default `jwks.maxKeys` and
 * `requireThumbprintKids`), after the checks its fetch makes on a URL's answer, so the verdict is the
 * plugin's, not a copy of its rules.
 */
export async function consumerVerdict (loaded: LoadedKeySet): Promise<ConsumerVerdict> {
  const refusal = answerRefusal(loaded)
  if (refusal !== null) return { accepts: false, reason: refusal, usableKids: [] }
  try {
    const usable = await readKeySetDocument(loaded.document, { maxKeys: JWKS_DEFAULTS.maxKeys, requireThumbprintKids: true })
    return { accepts: true, usableKids: [...usable.keys()] }
  } catch (error) {
    // The consumer takes any failure here as a refused set (remote-key-set.ts), and so does this verdict.
    return { accepts: false, reason: (error as Error).message, usableKids: [] }
  }
}
