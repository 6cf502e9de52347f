import { JWKS_DEFAULTS } from '@webhook-jwt/consumer'
import { JSON_MEDIA_TYPE, consumerVerdict, type ConsumerVerdict } from './consumer-verdict.ts'
import { inspectKey, type KeyRow, type KeySetProblem } from './inspect-key.ts'
import type { LoadedKeySet } from './load-key-set.ts'

/** A key set judged: each key, every problem, and what the consumer does with it. */
export interface KeySetReport {
  keys: KeyRow[]
  problems: KeySetProblem[]
  consumer: ConsumerVerdict
}

/** Problems of the set as a whole, in the order the consumer meets them. */
function setProblems (loaded: LoadedKeySet): KeySetProblem[] {
  const problems: KeySetProblem[] = []
  const { source } = loaded
  if ('url' in source && !JSON_MEDIA_TYPE.test(source.contentType ?? '')) {
    problems.push({ index: null, problem: 'media-type', message: `the content-type is ${source.contentType ?? 'missing'}, not application/jwk-set+json: a consumer refuses the answer` })
  }
  if (loaded.bytes > JWKS_DEFAULTS.maxBytes) {
    problems.push({ index: null, problem: 'too-large', message: `it is ${loaded.bytes} bytes, more than the consumer's default jwks.maxBytes (${JWKS_DEFAULTS.maxBytes}): a consumer refuses it` })
  }
  if (loaded.keys.length > JWKS_DEFAULTS.maxKeys) {
    problems.push({ index: null, problem: 'too-many-keys', message: `it has ${loaded.keys.length} keys, more than the consumer's default jwks.maxKeys (${JWKS_DEFAULTS.maxKeys}): a consumer refuses it` })
  }
  return problems
}

/**
 * Inspects every key of a loaded set, finds the problems of the set (its media type, size, number of keys,
 * kids naming two keys), and asks the consumer's code for its verdict. A set the consumer accepts but cannot
 * verify anything with, and a refusal no listed problem explains, are problems too: either way the answer is no.
 */
export async function inspectKeySet (loaded: LoadedKeySet): Promise<KeySetReport> {
  const keys: KeyRow[] = []
  const problems = setProblems(loaded)
  const firstIndexOf = new Map<string, number>()
  for (const [index, entry] of loaded.keys.entries()) {
    const inspected = await inspectKey(entry, index)
    keys.push(inspected.row)
    problems.push(...inspected.problems)
    const kid = inspected.row.kid
    if (kid === null) continue
    const first = firstIndexOf.get(kid)
    if (first === undefined) firstIndexOf.set(kid, index)
    else problems.push({ index, problem: 'duplicate-kid', message: `its kid ${JSON.stringify(kid)} also names keys[${first}]: a consumer refuses the whole set` })
  }
  const consumer = await consumerVerdict(loaded)
  if (consumer.accepts && consumer.usableKids.length === 0) {
    problems.push({ index: null, problem: 'no-usable-key', message: 'a consumer takes this set but finds no key in it to verify a webhook token with' })
  }
  if (!consumer.accepts && problems.length === 0) {
    problems.push({ index: null, problem: 'refused', message: `a consumer refuses it: ${consumer.reason as string}` })
  }
  return { keys, problems, consumer }
}
