import t from 'tap'
import * as consumer from '@webhook-jwt/consumer'
import { DEFAULT_MAX_TOKEN_BYTES, decodeWebhookToken } from '@webhook-jwt/consumer/token'
import { testKey, tokenFor } from './helpers/token-factory.ts'

// `@webhook-jwt/consumer/token`: the plugin's strict token format alone, for tools such as the CLI's decode.

t.test('the ./token entry is the plugin\'s own parser and size cap', async (t) => {
  t.equal(decodeWebhookToken, consumer.decodeWebhookToken)
  t.equal(DEFAULT_MAX_TOKEN_BYTES, consumer.DEFAULT_MAX_TOKEN_BYTES)
  const key = await testKey()
  const token = tokenFor(key)
  t.match(decodeWebhookToken(token, DEFAULT_MAX_TOKEN_BYTES), { compact: token, header: { alg: 'ES256', kid: key.kid, typ: 'webhook+jwt' }, claims: { jti: String } })
  t.throws(() => decodeWebhookToken(`${token}=`, DEFAULT_MAX_TOKEN_BYTES), { code: 'WEBHOOK_TOKEN_MALFORMED' }, 'padding is not canonical base64url')
  t.throws(() => decodeWebhookToken(token, token.length - 1), { code: 'WEBHOOK_TOKEN_MALFORMED' }, 'longer than the cap')
})
