// `@webhook-jwt/consumer/token`: the strict token format the consumer parses, without the plugin and its key-set
// cache, for tools that take tokens apart and must start at once (the CLI's decode).
export { parseCompactJws as decodeWebhookToken, type ParsedToken } from './token/compact-jws.ts'
export { DEFAULT_MAX_TOKEN_BYTES } from './options.ts'
