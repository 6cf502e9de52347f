// The flags of `keys`, and the plugin options they set: read by the command definitions, so nothing here loads
// the producer or a store.

/** Where `--store` points, and the flags that shape a Redis store. */
export interface KeyStoreFlags {
  store: string
  prefix?: string
  maxStaleness?: string
  /** Deadline of each Redis command; the flag has a default. */
  timeout: string
}

/** The rotation flags: the producers' own settings, which the CLI must share to step their rotation. */
export interface RotationFlags {
  algorithm?: string
  rsaBits?: string
  tokenTtl?: string
  clockSkew?: string
  jwksMaxAge?: string
  publishLead?: string
  retireAfter?: string
}

/** The environment variable that carries the key-encryption key: kept out of the command line, so out of `ps` and shell history. */
export const KEK_VARIABLE = 'WEBHOOK_JWT_KEY_ENCRYPTION_KEY'

/** The option paths the stores and the producer use, by the flag that sets each, for error messages. */
export const KEY_FLAGS: Readonly<Record<string, string>> = {
  'fileKeyStore.path': '--store',
  'redisKeyStore.connection': '--store',
  'redisKeyStore.prefix': '--prefix',
  'redisKeyStore.maxStaleness': '--max-staleness',
  'redisKeyStore.commandTimeout': '--timeout',
  keyEncryptionKey: `${KEK_VARIABLE} (or --key-encryption-key-file)`,
  algorithm: '--algorithm',
  rsaModulusLength: '--rsa-bits',
  tokenTtl: '--token-ttl',
  clockSkew: '--clock-skew',
  'jwks.maxAge': '--jwks-max-age',
  'rotation.publishLead': '--publish-lead',
  'rotation.retireAfter': '--retire-after'
}
