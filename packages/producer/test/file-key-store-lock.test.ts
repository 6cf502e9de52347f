import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import * as fsPromises from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { fileKeyStore, type StoredKeySet } from '@webhook-jwt/producer'
import { createFileKeyStore } from '../src/key-store/file-key-store.ts'

const uid = process.getuid?.()

// Two writers of one key file must not both win: the revision check and the rename run under <path>.lock.
// The failures a test cannot stage with real files (a rename that fails, a lock that vanishes or is taken
// again between two calls) come from file operations that fail on purpose.

const set = (revision: number): StoredKeySet => ({ format: 'webhook-jwt/key-set@1', revision, keys: [] })

t.test('a lock held by another writer is a conflict, and nothing is written', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const store = fileKeyStore({ path })
  await store.write(set(1), null)
  writeFileSync(`${path}.lock`, '')
  await t.rejects(store.write(set(2), 1), { code: 'WEBHOOK_KEY_STORE_CONFLICT' })
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 1)
  t.ok(existsSync(`${path}.lock`), 'another writer\'s lock is left alone')
})

t.test('a lock left by a writer that died is broken once it is stale', async (t) => {
  const path = join(t.testdir(), 'keys.json')
  const store = fileKeyStore({ path })
  await store.write(set(1), null)
  writeFileSync(`${path}.lock`, '')
  const past = new Date(Date.now() - 60_000)
  utimesSync(`${path}.lock`, past, past)
  await store.write(set(2), 1)
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 2)
  t.notOk(existsSync(`${path}.lock`), 'released after the write')
})

t.test('a lock that vanishes while it is being inspected counts as stale', async (t) => {
  const vanishing = {
    ...fsPromises,
    stat: async (file: string) => file.endsWith('.lock') ? await Promise.reject(Object.assign(new Error('ENOENT: gone'), { code: 'ENOENT' })) : await fsPromises.stat(file)
  } as unknown as typeof fsPromises
  const path = join(t.testdir(), 'keys.json')
  writeFileSync(`${path}.lock`, '')
  await createFileKeyStore({ path }, vanishing, uid).write(set(1), null)
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 1)
})

t.test('a stale lock taken again by another writer before this one gets it is a conflict', async (t) => {
  const contended = {
    ...fsPromises,
    open: async (file: string, flags: string, mode?: number) => file.endsWith('.lock') ? await Promise.reject(Object.assign(new Error('EEXIST: taken'), { code: 'EEXIST' })) : await fsPromises.open(file, flags, mode),
    stat: async (file: string) => file.endsWith('.lock') ? { mtimeMs: 0 } : await fsPromises.stat(file)
  } as unknown as typeof fsPromises
  const path = join(t.testdir(), 'keys.json')
  await t.rejects(createFileKeyStore({ path }, contended, uid).write(set(1), null), { code: 'WEBHOOK_KEY_STORE_CONFLICT' })
  t.notOk(existsSync(path))
})

t.test('a rename that fails leaves the old file and no temporary file', async (t) => {
  const crossDevice = { ...fsPromises, rename: async () => { throw Object.assign(new Error('EXDEV: cross-device link'), { code: 'EXDEV' }) } }
  const folder = t.testdir()
  const path = join(folder, 'keys.json')
  await fileKeyStore({ path }).write(set(1), null)
  await t.rejects(createFileKeyStore({ path }, crossDevice, uid).write(set(2), 1), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /EXDEV/ })
  t.equal(JSON.parse(readFileSync(path, 'utf8')).revision, 1)
  t.same(readdirSync(folder), ['keys.json'], 'no temporary file, no lock left')
})

t.test('a lock that cannot be created for another reason makes the store unavailable', async (t) => {
  const denied = {
    ...fsPromises,
    open: async (file: string, flags: string, mode?: number) => file.endsWith('.lock') ? await Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })) : await fsPromises.open(file, flags, mode)
  } as unknown as typeof fsPromises
  const path = join(t.testdir(), 'keys.json')
  await t.rejects(createFileKeyStore({ path }, denied, uid).write(set(1), null), { code: 'WEBHOOK_KEY_STORE_UNAVAILABLE', message: /EACCES/ })
})
