import { readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fsPromises from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_KEY_FILE_MAX_BYTES } from '@webhook-jwt/producer'
import { createFileKeyStore } from '../src/key-store/file-key-store.ts'
import { writtenKeyFile } from './helpers/key-files.ts'

// What happens between the store's lstat of the key path and its open cannot be timed with real files
// alone: these tests change the path from inside the lstat, after it looked and before the store opens,
// as another process could. And they count the bytes read, which no file can report.

const uid = process.getuid?.()

/** File operations whose lstat of `path` runs `between` after looking, `times` times. */
function changingAfterLstat (path: string, between: () => void, times = 1): typeof fsPromises {
  let left = times
  return {
    ...fsPromises,
    lstat: async (file: string) => {
      const seen = await fsPromises.lstat(file)
      if (file === path && left-- > 0) between()
      return seen
    }
  } as unknown as typeof fsPromises
}

t.test('a key file another writer renames in between the check and the open is checked and read afresh', async (t) => {
  const { path } = await writtenKeyFile(t)
  const newer = JSON.parse(readFileSync(path, 'utf8')) as { revision: number }
  newer.revision = 2
  const incoming = join(path, '..', 'incoming')
  const store = createFileKeyStore({ path }, changingAfterLstat(path, () => {
    writeFileSync(incoming, JSON.stringify(newer), { mode: 0o600 })
    renameSync(incoming, path)
  }), uid)
  t.equal((await store.read())?.revision, 2)
})

t.test('a key file replaced between the check and the open every time is unavailable', async (t) => {
  const { path } = await writtenKeyFile(t)
  const content = readFileSync(path)
  const incoming = join(path, '..', 'incoming')
  const store = createFileKeyStore({ path }, changingAfterLstat(path, () => {
    writeFileSync(incoming, content, { mode: 0o600 })
    renameSync(incoming, path)
  }, 3), uid)
  await t.rejects(store.read(), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /it was replaced between its check and its open 3 times in a row/ })
})

t.test('a link swapped in between the check and the open is not followed', async (t) => {
  const { path } = await writtenKeyFile(t)
  const foreign = join(path, '..', 'foreign.json')
  writeFileSync(foreign, readFileSync(path), { mode: 0o600 })
  const link = join(path, '..', 'incoming')
  const store = createFileKeyStore({ path }, changingAfterLstat(path, () => {
    symlinkSync(foreign, link)
    renameSync(link, path)
  }), uid)
  await t.rejects(store.read(), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /not a regular file but a symbolic link/ })
})

/** File operations that count the bytes read from every file they open. */
function countingReads (): { fs: typeof fsPromises, bytesRead: () => number } {
  let total = 0
  const open = async (...args: Parameters<typeof fsPromises.open>): Promise<FileHandle> => {
    const handle = await fsPromises.open(...args)
    return new Proxy(handle, {
      get (target, property) {
        if (property === 'read') {
          return async (...readArgs: Parameters<FileHandle['read']>) => {
            const result = await target.read(...readArgs)
            total += result.bytesRead
            return result
          }
        }
        if (property === 'readFile') {
          return async (...readArgs: Parameters<FileHandle['readFile']>) => {
            const content = await target.readFile(...readArgs)
            total += Buffer.byteLength(content)
            return content
          }
        }
        const value: unknown = Reflect.get(target, property)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }
  return { fs: { ...fsPromises, open } as unknown as typeof fsPromises, bytesRead: () => total }
}

t.test('an oversize key file is read no further than one byte past the cap', async (t) => {
  for (const maxBytes of [1000, DEFAULT_KEY_FILE_MAX_BYTES]) {
    const { path } = await writtenKeyFile(t)
    writeFileSync(path, ' '.repeat(maxBytes * 4))
    const reads = countingReads()
    await t.rejects(createFileKeyStore({ path, maxBytes }, reads.fs, uid).read(), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /larger than fileKeyStore\.maxBytes/ })
    t.ok(reads.bytesRead() <= maxBytes + 1, `${reads.bytesRead()} bytes read of ${maxBytes * 4}, cap ${maxBytes}`)
  }
})
