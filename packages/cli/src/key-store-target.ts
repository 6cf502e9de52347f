import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileKeyStore, type KeyStore } from '@webhook-jwt/producer'
import { CliError } from './cli-error.ts'

/** Where `--store` points, and the flags that shape a Redis store. */
export interface KeyStoreFlags {
  store: string
  prefix?: string
  maxStaleness?: string
  /** Deadline of each Redis command; the flag has a default. */
  timeout: string
}

/** The environment variable that carries the key-encryption key: kept out of the command line, so out of `ps` and shell history. */
export const KEK_VARIABLE = 'WEBHOOK_JWT_KEY_ENCRYPTION_KEY'

/** The store flags, by the option paths the stores use, for error messages. */
export const STORE_FLAGS: Readonly<Record<string, string>> = {
  'fileKeyStore.path': '--store',
  'redisKeyStore.connection': '--store',
  'redisKeyStore.prefix': '--prefix',
  'redisKeyStore.maxStaleness': '--max-staleness',
  'redisKeyStore.commandTimeout': '--timeout',
  keyEncryptionKey: `${KEK_VARIABLE} (or --key-encryption-key-file)`
}

/**
 * The producer key store `--store` names: a `redis://` or `rediss://` URL is the shared Redis store of
 * `@webhook-jwt/redis` (loaded only then), anything else the path of a file store. The store is the one the
 * producers use, with the same validation.
 */
export async function openKeyStore (flags: KeyStoreFlags): Promise<KeyStore> {
  if (/^rediss?:\/\//i.test(flags.store)) {
    const { redisKeyStore } = await import('@webhook-jwt/redis')
    return redisKeyStore({
      connection: flags.store,
      ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      ...(flags.maxStaleness === undefined ? {} : { maxStaleness: flags.maxStaleness }),
      commandTimeout: flags.timeout
    })
  }
  if (flags.prefix !== undefined || flags.maxStaleness !== undefined) throw new CliError('USAGE', '--prefix and --max-staleness apply to a Redis store (--store redis://…) only', 2)
  return fileKeyStore({ path: resolve(flags.store) })
}

/** The key-encryption key, from `--key-encryption-key-file` or the environment; `undefined` when neither is set. */
export async function readKeyEncryptionKey (file: string | undefined, env: Record<string, string | undefined>): Promise<string | undefined> {
  if (file === undefined) return env[KEK_VARIABLE]
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (error) {
    throw new CliError('FILE_UNREADABLE', `cannot read the key-encryption key file ${file}: ${(error as NodeJS.ErrnoException).code as string}`)
  }
}

/** Producer errors a key store operation can meet, as the operator's errors: what was wrong, with the store's own words. */
export function storeError (error: unknown): unknown {
  const code = String((error as { code?: unknown }).code)
  // Nothing to do is an answer (exit 1); a store that cannot be read, written or decrypted is not (exit 3).
  if (code === 'WEBHOOK_UNKNOWN_KEY' || code === 'WEBHOOK_NOTHING_TO_ROLL_BACK') return new CliError(code, (error as Error).message, 1)
  if (code.startsWith('WEBHOOK_KEY_')) return new CliError(code, (error as Error).message, 3)
  return error
}
