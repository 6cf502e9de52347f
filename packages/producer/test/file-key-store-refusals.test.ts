import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fsPromises from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { DEFAULT_KEY_FILE_MAX_BYTES, fileKeyStore, type StoredKeySet } from '@webhook-jwt/producer'
import { createFileKeyStore } from '../src/key-store/file-key-store.ts'
import { buildProducer, startupError } from './helpers/producer-app.ts'
import { makeFifo, releaseFifo, within, writtenKeyFile } from './helpers/key-files.ts'

// A key file is trusted only when nobody but the user the producer runs as could have put it there or
// changed it, and only once it is known to be a regular file of a sane size. Each refusal is a startup
// error that says what to fix, and leaves what it found untouched. These tests run as root (they chown to
// 65534, "nobody", to stage a file of another user).

const NOBODY = 65534
const set = (revision: number): StoredKeySet => ({ format: 'webhook-jwt/key-set@1', revision, keys: [] })

async function startError (path: string, options: { maxBytes?: number } = {}): Promise<unknown> {
  return await startupError({ keyStore: fileKeyStore({ path, ...options }) })
}

t.test('a key folder that others or the group can write to is refused, sticky bit or not', async (t) => {
  for (const mode of [0o777, 0o1777, 0o757, 0o770, 0o730]) {
    const { path } = await writtenKeyFile(t)
    const folder = join(path, '..')
    chmodSync(folder, mode)
    const before = readFileSync(path, 'utf8')
    t.match(await startError(path), {
      code: 'WEBHOOK_KEY_STORE_FOLDER_INSECURE',
      statusCode: 500,
      message: new RegExp(`key folder ${folder} has mode 0?${mode.toString(8)}: users other than its owner can add or replace files.*Run chmod 700 on it`)
    }, mode.toString(8))
    t.equal(readFileSync(path, 'utf8'), before, 'left untouched')
  }
})

t.test('a key folder that others may only read and enter is accepted', async (t) => {
  for (const mode of [0o755, 0o750, 0o711]) {
    const { path, kid } = await writtenKeyFile(t)
    chmodSync(join(path, '..'), mode)
    const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
    t.equal(app.webhooks.status().activeKid, kid, mode.toString(8))
  }
})

t.test('nothing is written into a key folder others can write to: no key file, no lock', async (t) => {
  const folder = t.testdir()
  chmodSync(folder, 0o777)
  const path = join(folder, 'keys.json')
  t.match(await startError(path), { code: 'WEBHOOK_KEY_STORE_FOLDER_INSECURE' })
  await t.rejects(fileKeyStore({ path }).write(set(1), null), { code: 'WEBHOOK_KEY_STORE_FOLDER_INSECURE' })
  t.same(readdirSync(folder), [])
})

t.test('a key file of another user is refused, even with mode 0600', async (t) => {
  const { path } = await writtenKeyFile(t)
  chownSync(path, NOBODY, NOBODY)
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.match(await startError(path), {
    code: 'WEBHOOK_KEY_STORE_NOT_OWNED',
    statusCode: 500,
    message: new RegExp(`key file ${path} belongs to uid ${NOBODY}, not to uid 0 that runs this process.*chown`)
  })
  await t.rejects(fileKeyStore({ path }).write(set(2), 1), { code: 'WEBHOOK_KEY_STORE_NOT_OWNED' }, 'nor replaced')
  t.equal(statSync(path).uid, NOBODY)
})

t.test('a key folder of another user is refused', async (t) => {
  const { path } = await writtenKeyFile(t)
  const folder = join(path, '..')
  chownSync(folder, NOBODY, NOBODY)
  t.match(await startError(path), { code: 'WEBHOOK_KEY_STORE_NOT_OWNED', message: new RegExp(`key folder ${folder} belongs to uid ${NOBODY}`) })
})

t.test('where the process has no uid (Windows), owners are not compared', async (t) => {
  const { path } = await writtenKeyFile(t)
  chownSync(join(path, '..'), NOBODY, NOBODY)
  chownSync(path, NOBODY, NOBODY)
  const store = createFileKeyStore({ path }, fsPromises, undefined)
  t.equal((await store.read())?.revision, 1)
})

t.test('a symbolic link at the key path is refused, and a write leaves the link and its target as they are', async (t) => {
  const { path: target } = await writtenKeyFile(t, 'real-keys.json')
  const path = join(target, '..', 'keys.json')
  symlinkSync(target, path)
  const before = readFileSync(target, 'utf8')
  t.match(await startError(path), {
    code: 'WEBHOOK_KEY_STORE_NOT_A_FILE',
    statusCode: 500,
    message: /cannot be used: it is not a regular file but a symbolic link\. A link is never followed.*Point fileKeyStore\.path at the key file itself/
  })
  await t.rejects(fileKeyStore({ path }).write(set(2), 1), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE' })
  t.ok(lstatSync(path).isSymbolicLink(), 'still a link')
  t.equal(readlinkSync(path), target)
  t.equal(readFileSync(target, 'utf8'), before)
})

t.test('a dangling link at the key path is not read as "no keys yet", and the first write does not replace it', async (t) => {
  const folder = t.testdir()
  const path = join(folder, 'keys.json')
  symlinkSync(join(folder, 'elsewhere.json'), path)
  t.match(await startError(path), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /a symbolic link/ })
  await t.rejects(fileKeyStore({ path }).write(set(1), null), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE' })
  t.ok(lstatSync(path).isSymbolicLink())
  t.same(readdirSync(folder), ['keys.json'], 'no file was created through the link')
})

t.test('a FIFO at the key path is refused without being opened', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  makeFifo(path)
  const started = startError(path)
  try {
    // Opening a FIFO for reading waits for a writer: a store that opens it would still be waiting.
    t.match(await within(started, 5000), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /it is not a regular file but a FIFO/ })
  } finally {
    releaseFifo(path)
    await started
  }
  t.ok(lstatSync(path).isFIFO(), 'left in place')
})

t.test('a folder or a device at the key path is refused', async (t) => {
  const folder = t.testdir()
  mkdirSync(join(folder, 'a-folder'))
  t.match(await startError(join(folder, 'a-folder')), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /cannot be used: it is not a regular file but a folder/ })
  t.match(await startError('/dev/null'), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /not a regular file but a device or socket/ })
})

t.test('a key file over the size cap is refused, even if it holds a valid key set', async (t) => {
  const { path } = await writtenKeyFile(t)
  const padded = readFileSync(path, 'utf8') + ' '.repeat(DEFAULT_KEY_FILE_MAX_BYTES)
  writeFileSync(path, padded)
  t.match(await startError(path), {
    code: 'WEBHOOK_KEY_STORE_CORRUPT',
    message: /does not hold a valid key set: it is larger than fileKeyStore\.maxBytes \(1048576 bytes\), far more than any key set, and was not read further\. Restore it from a backup/
  })
  t.equal(readFileSync(path, 'utf8'), padded, 'left untouched')
})

t.test('maxBytes sets the cap: a file of exactly maxBytes is read, one byte more is refused', async (t) => {
  const { path, kid } = await writtenKeyFile(t)
  const size = statSync(path).size
  const { app } = await buildProducer(t, { keyStore: fileKeyStore({ path, maxBytes: size }) })
  t.equal(app.webhooks.status().activeKid, kid)
  await app.close()
  t.match(await startError(path, { maxBytes: size - 1 }), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: new RegExp(`larger than fileKeyStore.maxBytes \\(${size - 1} bytes\\)`) })
})

t.test('a key set over the size cap is never written, since it could not be read back', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const store = fileKeyStore({ path, maxBytes: 20 })
  await t.rejects(store.write(set(1), null), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /the key set is \d+ bytes, more than fileKeyStore\.maxBytes \(20\)/ })
  t.same(readdirSync(join(path, '..')), [])
})

t.test('maxBytes must be a positive whole number of bytes', async (t) => {
  for (const maxBytes of [0, -1, 1.5, Number.NaN, '1mb']) {
    t.throws(() => fileKeyStore({ path: 'keys.json', maxBytes: maxBytes as number }), { code: 'WEBHOOK_INVALID_OPTION', option: 'fileKeyStore.maxBytes', message: /must be a positive whole number of bytes/ }, String(maxBytes))
  }
})

t.test('a path that cannot be looked at is unavailable', async (t) => {
  const folder = t.testdir({ 'a-file': 'x' })
  t.match(await startError(join(folder, 'a-file', 'keys.json')), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /a-file is not a folder/ })
  t.match(await startError(join(folder, 'a-file', 'sub', 'keys.json')), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /ENOTDIR/ })
  t.match(await startError(join(folder, 'k'.repeat(300))), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /ENAMETOOLONG/ })
})
