import { randomBytes } from 'node:crypto'
import { existsSync, watch as watchFolder } from 'node:fs'
import * as fsPromises from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { WebhookOptionError, describeValue } from '@webhook-jwt/protocol'
import { KeyStoreConflictError, KeyStoreCorruptError, KeyStoreUnavailableError } from '../errors.ts'
import { checkKeyFolder, readKeyFile, type FileOperations, type KeyFileGuard } from './key-file-guard.ts'
import type { KeyStore, StoredKeySet } from './key-store.ts'

export type { FileOperations } from './key-file-guard.ts'

/** A lock file older than this was left by a writer that died: it is broken. */
export const STALE_LOCK_MS = 10_000
/** The default `fileKeyStore` size cap: 1 MiB, some twenty times the largest key set the producer keeps. */
export const DEFAULT_KEY_FILE_MAX_BYTES = 1_048_576

/** Options of `fileKeyStore`. */
export interface FileKeyStoreOptions {
  /** The key file. Its folder is created (mode 0700) if missing; the file is written with mode 0600. */
  path: string
  /**
   * The largest key file read, in bytes (default `DEFAULT_KEY_FILE_MAX_BYTES`, 1 MiB): a bigger one is refused
   * (`WEBHOOK_KEY_STORE_CORRUPT`) after reading one byte more, and a bigger key set is never written.
   */
  maxBytes?: number
}

function isTaken (error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EEXIST'
}

/**
 * Keeps keys in one JSON file. Every write goes to a temporary file in the same folder, is flushed to disk,
 * then renamed over the old file, so a crash leaves the old set or the new one, never half of either.
 * Before anything in it is trusted, read or replaced, the file must be a regular file (never a link, never
 * opened first to find out), of at most `maxBytes`, that only its owner can read or change, in a folder no
 * other user can change; file and folder must belong to the user the process runs as. A file that fails,
 * or that does not parse, is refused: it is never regenerated, since that would silently replace keys
 * receivers trust. Writes take a lock file (`<path>.lock`), so two writers cannot both win. The producer
 * watches the file's folder, so a step that another process stores (the `webhook-jwt keys` command, say)
 * is read, served and scheduled at once, once it passes the same checks. Only one producer process should
 * sign from a file: use a shared store such as `redisKeyStore` for replicas.
 *
 * @example
 * app.register(webhookProducer, { issuer, keyStore: fileKeyStore({ path: '/var/lib/sender/webhook-keys.json' }) })
 * // A smaller cap than the default 1 MiB:
 * fileKeyStore({ path: '/var/lib/sender/webhook-keys.json', maxBytes: 256 * 1024 })
 */
export function fileKeyStore (options: FileKeyStoreOptions): KeyStore {
  return createFileKeyStore(options, fsPromises, process.getuid?.())
}

/** `uid` is the user whose files alone are trusted; `undefined` (Windows) compares no owners. */
export function createFileKeyStore (options: FileKeyStoreOptions, fs: FileOperations, uid: number | undefined): KeyStore {
  const { mkdir, open, rename, rm, stat } = fs
  const path = options?.path
  if (typeof path !== 'string' || path === '') throw new WebhookOptionError('fileKeyStore.path', `must be a file path (got ${describeValue(path)})`)
  const maxBytes = options.maxBytes ?? DEFAULT_KEY_FILE_MAX_BYTES
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new WebhookOptionError('fileKeyStore.maxBytes', `must be a positive whole number of bytes (got ${describeValue(maxBytes)})`)
  const guard: KeyFileGuard = { fs, uid, maxBytes }

  async function readCurrent (): Promise<StoredKeySet | null> {
    const text = await readKeyFile(guard, path)
    if (text === null) return null
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new KeyStoreCorruptError(path, 'it is not valid JSON')
    }
    const revision = (parsed as { revision?: unknown } | null)?.revision
    if (typeof parsed !== 'object' || parsed === null || !Number.isSafeInteger(revision)) {
      throw new KeyStoreCorruptError(path, 'it has no revision number')
    }
    return parsed as StoredKeySet
  }

  // The revision check and the rename happen under an exclusive lock file, so two writers cannot both win.
  async function lock (): Promise<() => Promise<void>> {
    const lockPath = `${path}.lock`
    for (let attempt = 1; ; attempt++) {
      try {
        await (await open(lockPath, 'wx', 0o600)).close()
        return async () => { await rm(lockPath, { force: true }) }
      } catch (error) {
        if (!isTaken(error)) throw new KeyStoreUnavailableError(path, (error as Error).message)
      }
      // Held by a live writer (a conflict), or left by one that died: a lock older than STALE_LOCK_MS is
      // broken, once. A lock that vanished in between counts as stale.
      const heldFor = Date.now() - (await stat(lockPath).catch(() => ({ mtimeMs: 0 }))).mtimeMs
      if (attempt === 2 || heldFor < STALE_LOCK_MS) throw new KeyStoreConflictError(path)
      await rm(lockPath, { force: true })
    }
  }

  // Temporary file in the same folder, flushed, renamed over the old file, then the folder flushed:
  // a crash at any point leaves the old set or the new one, never half of either.
  async function replace (folder: string, content: string): Promise<void> {
    const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      const file = await open(temporary, 'wx', 0o600)
      try {
        await file.writeFile(content)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(temporary, path)
      const directory = await open(folder, 'r')
      try {
        await directory.sync()
      } finally {
        await directory.close()
      }
    } catch (error) {
      await rm(temporary, { force: true })
      throw new KeyStoreUnavailableError(path, (error as Error).message)
    }
  }

  return {
    description: path,
    read: readCurrent,
    // The folder, not the file: every write renames a new file over the old one, which a watch on the file
    // itself would lose track of. A removed file is not a change to read: the producer goes on with the keys
    // it holds, and puts them back at its next write. A folder that cannot be watched (gone, or out of
    // inotify watches) leaves the producer reading the file again only when it next writes.
    watch (onChange) {
      try {
        const watcher = watchFolder(dirname(path), { persistent: false }, (_event, name) => {
          if (name === basename(path) && existsSync(path)) onChange()
        })
        /* c8 ignore next -- fs.watch reports errors on some platforms only (Windows, a removed folder); Linux cannot stage one */
        watcher.on('error', () => { watcher.close() })
        return () => { watcher.close() }
      } catch {
        return () => {}
      }
    },
    async write (keySet, expectedRevision) {
      const content = `${JSON.stringify(keySet, null, 2)}\n`
      const size = Buffer.byteLength(content)
      // A file this store could not read back would stop the next start.
      if (size > maxBytes) throw new KeyStoreUnavailableError(path, `the key set is ${size} bytes, more than fileKeyStore.maxBytes (${maxBytes}) lets it read back`)
      const folder = dirname(path)
      await mkdir(folder, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
        throw new KeyStoreUnavailableError(path, (error as Error).message)
      })
      // The folder before the lock file goes into it, the file (under the lock) before it is replaced: a
      // link at the path is refused, never followed nor silently replaced by the rename.
      await checkKeyFolder(guard, path)
      const release = await lock()
      try {
        const current = await readCurrent()
        if ((current?.revision ?? null) !== expectedRevision) throw new KeyStoreConflictError(path)
        await replace(folder, content)
      } finally {
        await release()
      }
    }
  }
}
