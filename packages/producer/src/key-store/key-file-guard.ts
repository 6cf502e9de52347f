import { constants, type Stats } from 'node:fs'
import type * as fsPromises from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { KeyFolderInsecureError, KeyStoreCorruptError, KeyStoreInsecureError, KeyStoreNotAFileError, KeyStoreNotOwnedError, KeyStoreUnavailableError } from '../errors.ts'

/** The file operations the store uses; tests pass failing ones to reach failures real files cannot stage. */
export type FileOperations = Pick<typeof fsPromises, 'lstat' | 'mkdir' | 'open' | 'rename' | 'rm' | 'stat'>

/** What a key file and its folder are checked against before anything in them is trusted. */
export interface KeyFileGuard {
  fs: FileOperations
  /** The uid the process runs as; `undefined` where there is none (Windows), and then owners are not compared. */
  uid: number | undefined
  /** The largest key file read; a bigger one is refused after reading `maxBytes + 1` bytes of it. */
  maxBytes: number
}

/** Permission bits that let anyone but the owner read or change the file. */
const UNSAFE_FILE_BITS = 0o077
/**
 * Permission bits that let anyone but the owner add, rename or remove files in the folder. The group counts:
 * its members can rename a file in as well as anyone. The sticky bit does not make either safe: it stops
 * others replacing a file they do not own, not creating the key file before the producer does, nor the lock.
 */
const UNSAFE_FOLDER_BITS = 0o022
/** The chunk a key file is read in: more than a whole key set, so a valid file takes one read and an end-of-file. */
const READ_CHUNK_BYTES = 64 * 1024
/** Opens of a key file that another writer's rename may replace between its lstat and its open, before giving up. */
const READ_ATTEMPTS = 3

// Read only; never through a symbolic link (ELOOP instead); never waiting for the writer of a FIFO.
/* c8 ignore next -- the fallbacks are for Windows, which has neither flag (the lstat check alone refuses links there); Linux has both */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0)

const REPLACED = Symbol('replaced while it was opened')

function errorCode (error: unknown): string {
  return String((error as { code?: unknown }).code)
}

function isMissing (error: unknown): boolean {
  return errorCode(error) === 'ENOENT'
}

function modeOf (info: Stats): string {
  return (info.mode & 0o7777).toString(8).padStart(4, '0')
}

function kindOf (info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link'
  if (info.isDirectory()) return 'a folder'
  if (info.isFIFO()) return 'a FIFO'
  return 'a device or socket'
}

function assertOwned (guard: KeyFileGuard, what: 'key file' | 'key folder', path: string, info: Stats): void {
  if (guard.uid !== undefined && info.uid !== guard.uid) throw new KeyStoreNotOwnedError(what, path, String(info.uid), String(guard.uid))
}

/**
 * Checks the folder of the key file at `path`, as reached through any links: a folder that belongs to the
 * process's user and that nobody else can change. `false` when it does not exist (yet).
 */
export async function checkKeyFolder (guard: KeyFileGuard, path: string): Promise<boolean> {
  const folder = dirname(path)
  let info: Stats
  try {
    info = await guard.fs.stat(folder)
  } catch (error) {
    if (isMissing(error)) return false
    throw new KeyStoreUnavailableError(path, (error as Error).message)
  }
  if (!info.isDirectory()) throw new KeyStoreUnavailableError(path, `${folder} is not a folder`)
  assertOwned(guard, 'key folder', folder, info)
  if ((info.mode & UNSAFE_FOLDER_BITS) !== 0) throw new KeyFolderInsecureError(folder, modeOf(info))
  return true
}

/**
 * The text of the key file at `path`, or `null` when there is none. It is read only from a safe folder, only
 * if it is a regular file (judged by `lstat`, before it is opened: a link or a FIFO is never opened), the one
 * that was opened (`fstat`), belonging to the process's user, that only that user can read or change, and of
 * at most `maxBytes`.
 */
export async function readKeyFile (guard: KeyFileGuard, path: string): Promise<string | null> {
  if (!await checkKeyFolder(guard, path)) return null
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const text = await readOnce(guard, path)
    if (text !== REPLACED) return text
  }
  throw new KeyStoreUnavailableError(path, `it was replaced between its check and its open ${READ_ATTEMPTS} times in a row`)
}

async function readOnce (guard: KeyFileGuard, path: string): Promise<string | null | typeof REPLACED> {
  try {
    const seen = await guard.fs.lstat(path)
    if (!seen.isFile()) throw new KeyStoreNotAFileError(path, kindOf(seen))
    const file = await guard.fs.open(path, READ_FLAGS)
    try {
      const opened = await file.stat()
      // Another file renamed over the path since the lstat (a writer's step, usually): check that one instead.
      if (opened.dev !== seen.dev || opened.ino !== seen.ino) return REPLACED
      assertOwned(guard, 'key file', path, opened)
      if ((opened.mode & UNSAFE_FILE_BITS) !== 0) throw new KeyStoreInsecureError(path, modeOf(opened))
      return await readAtMost(file, path, guard.maxBytes)
    } finally {
      await file.close()
    }
  } catch (error) {
    if (errorCode(error).startsWith('WEBHOOK_')) throw error
    if (isMissing(error)) return null
    // O_NOFOLLOW met a link that was swapped in after the lstat.
    if (errorCode(error) === 'ELOOP') throw new KeyStoreNotAFileError(path, 'a symbolic link')
    throw new KeyStoreUnavailableError(path, (error as Error).message)
  }
}

async function readAtMost (file: FileHandle, path: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total))
    const { bytesRead } = await file.read(chunk, 0, chunk.length, null)
    if (bytesRead === 0) return Buffer.concat(chunks, total).toString('utf8')
    chunks.push(chunk.subarray(0, bytesRead))
    total += bytesRead
    if (total > maxBytes) throw new KeyStoreCorruptError(path, `it is larger than fileKeyStore.maxBytes (${maxBytes} bytes), far more than any key set, and was not read further`)
  }
}
