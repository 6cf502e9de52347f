import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { WebhookOptionError, describeValue } from '@webhook-jwt/protocol'
import { KeyStoreConflictError, KeyStoreCorruptError, KeyStoreInsecureError, KeyStoreUnavailableError } from '../errors.ts'
import type { KeyStore, StoredKeySet } from './key-store.ts'

/** Permission bits that let another user read the file, or change it. */
const UNSAFE_MODE_BITS = 0o027

/** Options of `fileKeyStore`. */
export interface FileKeyStoreOptions {
  /** The key file. Its folder is created (mode 0700) if missing; the file is written with mode 0600. */
  path: string
}

function isMissing (error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT'
}

/**
 * Keeps keys in one JSON file. Every write goes to a temporary file in the same folder, is flushed to disk,
 * then renamed over the old file, so a crash leaves the old set or the new one, never half of either.
 * A file that others can read or change, or that does not parse, is refused: it is never regenerated,
 * since that would silently replace keys receivers trust. One process writes a file at a time.
 *
 * @example
 * app.register(webhookProducer, { issuer, keyStore: fileKeyStore({ path: '/var/lib/sender/webhook-keys.json' }) })
 */
export function fileKeyStore (options: FileKeyStoreOptions): KeyStore {
  const path = options?.path
  if (typeof path !== 'string' || path === '') throw new WebhookOptionError('fileKeyStore.path', `must be a file path (got ${describeValue(path)})`)

  async function readCurrent (): Promise<StoredKeySet | null> {
    let text: string
    let mode: number
    let isFile: boolean
    try {
      const file = await open(path, 'r')
      try {
        const info = await file.stat()
        mode = info.mode
        isFile = info.isFile()
        text = isFile ? await file.readFile('utf8') : ''
      } finally {
        await file.close()
      }
    } catch (error) {
      if (isMissing(error)) return null
      throw new KeyStoreUnavailableError(path, (error as Error).message)
    }
    if (!isFile) throw new KeyStoreUnavailableError(path, 'it is not a regular file')
    if ((mode & UNSAFE_MODE_BITS) !== 0) throw new KeyStoreInsecureError(path, (mode & 0o777).toString(8).padStart(4, '0'))
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

  return {
    description: path,
    read: readCurrent,
    async write (keySet, expectedRevision) {
      const current = await readCurrent()
      if ((current?.revision ?? null) !== expectedRevision) throw new KeyStoreConflictError(path)
      const folder = dirname(path)
      const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
      try {
        await mkdir(folder, { recursive: true, mode: 0o700 })
        const file = await open(temporary, 'wx', 0o600)
        try {
          await file.writeFile(`${JSON.stringify(keySet, null, 2)}\n`)
          await file.sync()
        } finally {
          await file.close()
        }
        await rename(temporary, path)
        // Flush the rename itself, or a power cut could bring the old file back.
        const directory = await open(folder, 'r')
        try {
          await directory.sync()
        } finally {
          await directory.close()
        }
      } catch (error) {
        await unlink(temporary).catch(() => {})
        throw new KeyStoreUnavailableError(path, (error as Error).message)
      }
    }
  }
}
