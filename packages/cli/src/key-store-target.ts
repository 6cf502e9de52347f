import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileKeyStore, type KeyStore } from '@webhook-jwt/producer'
import { CliError, EXIT } from './cli-error.ts'
import { KEK_VARIABLE, type KeyStoreFlags } from './key-flags.ts'

/** How `@webhook-jwt/redis` is loaded: by its import, unless a caller (a test) brings another way. */
export type RedisLoader = () => Promise<Pick<typeof import('@webhook-jwt/redis'), 'redisKeyStore'>>

const importRedis: RedisLoader = async () => await import('@webhook-jwt/redis')

/** The codes of a package that is not installed: from `import()`, and from a `require()` inside a package. */
const NOT_INSTALLED = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'])

/**
 * `@webhook-jwt/redis` (with ioredis and bullmq) is needed for a Redis store only, so it may not be installed
 * beside the command: say which package to install rather than show the loader's error.
 */
async function loadRedis (load: RedisLoader): ReturnType<RedisLoader> {
  try {
    return await load()
  } catch (error) {
    if (!NOT_INSTALLED.has(String((error as { code?: unknown }).code))) throw error
    throw new CliError('REDIS_NOT_INSTALLED', `a Redis key store (--store redis://…) needs the package @webhook-jwt/redis: npm install @webhook-jwt/redis (${(error as Error).message})`, EXIT.unavailable)
  }
}

/**
 * The producer key store `--store` names: a `redis://` or `rediss://` URL is the shared Redis store of
 * `@webhook-jwt/redis` (loaded only then), anything else the path of a file store. The store is the one the
 * producers use, with the same validation.
 */
export async function openKeyStore (flags: KeyStoreFlags, load: RedisLoader = importRedis): Promise<KeyStore> {
  if (/^rediss?:\/\//i.test(flags.store)) {
    const { redisKeyStore } = await loadRedis(load)
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
