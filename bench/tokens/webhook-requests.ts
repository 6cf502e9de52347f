import type autocannon from 'autocannon'
import { WEBHOOK_PATH } from '../servers/receiver-config.ts'
import type { SigningAlgorithm } from '@webhook-jwt/protocol'
import { webhookBodyOf, webhookIdOf } from './webhook-body.ts'
import { unknownKidToken } from './unknown-kid-token.ts'
import type { TokenCursor, TokenPool } from './token-pool.ts'

/**
 * The autocannon request of a load run: each request is the next webhook from the pool, its token in
 * `Authorization` and its exact 1 KiB body, so no two requests carry the same token.
 */
export function webhookRequests (pool: TokenPool, cursor: TokenCursor): autocannon.Request[] {
  return [{
    method: 'POST',
    path: WEBHOOK_PATH,
    setupRequest (request) {
      const index = cursor.take()
      request.headers = {
        ...request.headers,
        authorization: `Bearer ${pool.tokenAt(index)}`,
        'content-type': 'application/json',
        'webhook-id': webhookIdOf(index)
      }
      request.body = webhookBodyOf(index)
      return request
    }
  }]
}

/**
 * Requests whose tokens name a random kid no key set holds, each made as it is sent (there is nothing to
 * sign): the memory run that shows unknown kids cannot make the consumer grow.
 */
export function unknownKidRequests (algorithm: SigningAlgorithm, issuer: string, audience: string, ttlSec: number): autocannon.Request[] {
  let next = 0
  return [{
    method: 'POST',
    path: WEBHOOK_PATH,
    setupRequest (request) {
      const index = next++
      const body = webhookBodyOf(index)
      request.headers = {
        ...request.headers,
        authorization: `Bearer ${unknownKidToken(algorithm, issuer, audience, webhookIdOf(index), body, ttlSec)}`,
        'content-type': 'application/json',
        'webhook-id': webhookIdOf(index)
      }
      request.body = body
      return request
    }
  }]
}
