import { chmodSync, lstatSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DEFAULT_KEY_FILE_MAX_BYTES, fileKeyStore } from '@webhook-jwt/producer'
import { AUDIENCE, buildProducer, publishedKids, until, type ProducerUnderTest } from './helpers/producer-app.ts'
import { makeFifo, releaseFifo, within, writtenKeyFile } from './helpers/key-files.ts'

// The producer watches the key file's folder and adopts what another process stores there. What appears at
// the key path passes the same checks as at startup before anything in it is used; when it fails, the
// producer keeps signing and serving the keys it holds, and says why (a warning, and health()).

const REFUSED = 'webhook key store cannot be read; signing with the keys held until it answers or maxStaleness passes'

interface Running extends ProducerUnderTest {
  path: string
  folder: string
  kid: string
  /** A valid key set of another producer, in the same folder under another name, ready to be renamed in. */
  foreign: string
  foreignKid: string
}

async function running (t: Test): Promise<Running> {
  const { path: foreign, kid: foreignKid } = await writtenKeyFile(t, 'foreign.json')
  const folder = join(foreign, '..')
  const path = join(folder, 'keys.json')
  const producer = await buildProducer(t, { keyStore: fileKeyStore({ path }) })
  return { ...producer, path, folder, kid: producer.app.webhooks.status().activeKid, foreign, foreignKid }
}

/** Waits for the warning that a reload was refused, and returns the refusal's code and message. */
async function refusal (producer: Running): Promise<{ code: string, message: string } | undefined> {
  const found = (): { code: string, message: string } | undefined => producer.logs.find((line) => line.msg === REFUSED)?.err as { code: string, message: string } | undefined
  await until(() => found() !== undefined, 5000).catch(() => {})
  return found()
}

/** What a user of the running producer observes: it signs with, serves and reports the keys it held. */
async function assertKeptKeys (t: Test, producer: Running, reason: RegExp): Promise<void> {
  const { app, kid, foreignKid } = producer
  t.equal(app.webhooks.status().activeKid, kid, 'the held key is still the active one')
  t.equal((await app.webhooks.sign({ type: 'ping' }, { audience: AUDIENCE })).kid, kid, 'and signs')
  const kids = await publishedKids(app)
  t.ok(kids.includes(kid) && !kids.includes(foreignKid), 'the JWKS serves the held keys, not the foreign ones')
  t.match(await app.webhooks.health(), { healthy: false, activeKid: kid, reason })
}

t.test('a foreign key file renamed into a key folder others can write to is not adopted', async (t) => {
  const producer = await running(t)
  chmodSync(producer.folder, 0o777)
  renameSync(producer.foreign, producer.path)
  t.match(await refusal(producer), { code: 'WEBHOOK_KEY_STORE_FOLDER_INSECURE', message: /has mode 0777/ })
  await assertKeptKeys(t, producer, /key store unreadable: The key folder .* has mode 0777/)
})

t.test('a symbolic link swapped in at the key path is not followed', async (t) => {
  const producer = await running(t)
  const link = join(producer.folder, 'incoming')
  symlinkSync(producer.foreign, link)
  renameSync(link, producer.path)
  t.match(await refusal(producer), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /not a regular file but a symbolic link/ })
  await assertKeptKeys(t, producer, /key store unreadable: .* a symbolic link/)
  t.ok(lstatSync(producer.path).isSymbolicLink(), 'the link is left for the operator to see')
})

t.test('an oversize key file appearing at the key path is not adopted, valid key set or not', async (t) => {
  const producer = await running(t)
  writeFileSync(producer.foreign, readFileSync(producer.foreign, 'utf8') + ' '.repeat(DEFAULT_KEY_FILE_MAX_BYTES))
  renameSync(producer.foreign, producer.path)
  t.match(await refusal(producer), { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /larger than fileKeyStore\.maxBytes/ })
  await assertKeptKeys(t, producer, /key store unreadable: .* larger than fileKeyStore\.maxBytes/)
})

t.test('a FIFO appearing at the key path is not opened, and the producer goes on', async (t) => {
  const producer = await running(t)
  const fifo = join(producer.folder, 'incoming')
  makeFifo(fifo)
  renameSync(fifo, producer.path)
  try {
    t.match(await refusal(producer), { code: 'WEBHOOK_KEY_STORE_NOT_A_FILE', message: /not a regular file but a FIFO/ })
    t.not(await within(assertKeptKeys(t, producer, /key store unreadable: .* a FIFO/), 5000), 'still waiting', 'health() does not wait on the FIFO either')
  } finally {
    // A store that opened the FIFO would be blocked in open() (and the app's close with it): wake it.
    releaseFifo(producer.path)
  }
})
