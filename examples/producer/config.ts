import { resolve } from 'node:path'
import { fileKeyStore, type WebhookProducerOptions } from '@webhook-jwt/producer'

/** The example's settings, read once from the environment at startup. */
export interface ProducerConfig {
  port: number
  host: string
  producer: WebhookProducerOptions
}

/** An environment variable with a value the example cannot use. */
export class ConfigError extends Error {
  constructor (readonly variable: string, message: string) {
    super(`${variable} ${message}`)
    this.name = 'ConfigError'
  }
}

// Durations go to the plugin as written ('300', '10m'): it is the one place their rules live. When it refuses
// one, this table turns the option it names back into the variable the user actually set.
const VARIABLE_OF_OPTION: Readonly<Record<string, string>> = {
  tokenTtl: 'WEBHOOK_TOKEN_TTL',
  'jwks.maxAge': 'WEBHOOK_JWKS_MAX_AGE',
  'rotation.every': 'WEBHOOK_ROTATION_EVERY'
}

/** A set, non-blank variable, trimmed; `undefined` otherwise, so the default applies. */
function readVariable (env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function readPort (env: NodeJS.ProcessEnv, fallback: number): number {
  const text = readVariable(env, 'PORT')
  if (text === undefined) return fallback
  const port = Number(text)
  // Port 0 would give the default issuer URL a port nobody listens on.
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new ConfigError('PORT', `must be a port number from 1 to 65535 (got ${JSON.stringify(text)})`)
  return port
}

/** Reads every variable; throws a `ConfigError` naming the first one that cannot be used. */
export function readConfig (env: NodeJS.ProcessEnv): ProducerConfig {
  const port = readPort(env, 3000)
  const host = readVariable(env, 'HOST') ?? '127.0.0.1'
  const keyFile = readVariable(env, 'WEBHOOK_KEY_FILE')
  const tokenTtl = readVariable(env, 'WEBHOOK_TOKEN_TTL')
  const jwksMaxAge = readVariable(env, 'WEBHOOK_JWKS_MAX_AGE')
  const rotationEvery = readVariable(env, 'WEBHOOK_ROTATION_EVERY')

  // Unset variables leave their option out, so the plugin's own defaults apply (and its README documents them).
  const producer: WebhookProducerOptions = {
    issuer: readVariable(env, 'WEBHOOK_ISSUER') ?? `http://127.0.0.1:${port}`,
    ...(keyFile === undefined ? {} : { keyStore: fileKeyStore({ path: resolve(keyFile) }) }),
    ...(tokenTtl === undefined ? {} : { tokenTtl }),
    ...(jwksMaxAge === undefined ? {} : { jwks: { maxAge: jwksMaxAge } }),
    ...(rotationEvery === undefined ? {} : { rotation: { every: rotationEvery === 'off' ? false : rotationEvery } })
  }
  return { port, host, producer }
}

/**
 * The message for a configuration mistake, naming the environment variable behind it; `undefined` for any
 * other startup failure. The plugin's option errors carry the option's name in `option`.
 */
export function describeConfigError (error: unknown): string | undefined {
  if (error instanceof ConfigError) return error.message
  const option = (error as { option?: unknown } | null)?.option
  const variable = typeof option === 'string' ? VARIABLE_OF_OPTION[option] : undefined
  return variable === undefined ? undefined : `${variable}: ${(error as Error).message}`
}
