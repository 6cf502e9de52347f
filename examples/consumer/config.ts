import type { WebhookConsumerOptions } from '@webhook-jwt/consumer'

/** The example's settings, read once from the environment at startup. */
export interface ConsumerConfig {
  port: number
  host: string
  consumer: WebhookConsumerOptions
}

/** An environment variable with a value the example cannot use. */
export class ConfigError extends Error {
  constructor (readonly variable: string, message: string) {
    super(`${variable} ${message}`)
    this.name = 'ConfigError'
  }
}

// Values go to the plugin as written: it is the one place their rules live. When it refuses one, this table
// turns the option it names back into the variable the user actually set.
const VARIABLE_OF_OPTION: Readonly<Record<string, string>> = {
  jwksUrl: 'WEBHOOK_JWKS_URL',
  maxTokenAge: 'WEBHOOK_MAX_TOKEN_AGE'
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
  // Port 0 would give the default audience a port nobody listens on.
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new ConfigError('PORT', `must be a port number from 1 to 65535 (got ${JSON.stringify(text)})`)
  return port
}

/** Reads every variable; throws a `ConfigError` naming the first one that cannot be used. */
export function readConfig (env: NodeJS.ProcessEnv): ConsumerConfig {
  const port = readPort(env, 3001)
  const host = readVariable(env, 'HOST') ?? '127.0.0.1'
  // The producer example's defaults, so the two work together with no variable set.
  const issuer = readVariable(env, 'WEBHOOK_ISSUER') ?? 'http://127.0.0.1:3000'
  const jwksUrl = readVariable(env, 'WEBHOOK_JWKS_URL')
  if (jwksUrl === undefined && !/^https?:\/\//.test(issuer)) {
    throw new ConfigError('WEBHOOK_JWKS_URL', `is required when WEBHOOK_ISSUER is not an http(s) URL to derive it from (WEBHOOK_ISSUER is ${JSON.stringify(issuer)})`)
  }
  const maxTokenAge = readVariable(env, 'WEBHOOK_MAX_TOKEN_AGE')
  const consumer: WebhookConsumerOptions = {
    issuer,
    jwksUrl: jwksUrl ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`,
    audience: readVariable(env, 'WEBHOOK_AUDIENCE') ?? `http://127.0.0.1:${port}/hooks`,
    // Unset, the plugin's default applies (300 s, the protocol's token lifetime).
    ...(maxTokenAge === undefined ? {} : { maxTokenAge })
  }
  return { port, host, consumer }
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
