import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import t from 'tap'
import { deleteKeys, freePort, redisOrSkip, uniquePrefix } from '../../../test/support/redis.ts'
import { openKeyStore } from '../src/key-store-target.ts'
import { jsonOf, runCli, type CliRun } from './helpers/run-cli.ts'

// The shortest windows the producer takes: publish lead 1 s (max-age 1 s, no skew), retire after 1 s (ttl 1 s).
const FAST = ['--jwks-max-age', '1', '--clock-skew', '0', '--token-ttl', '1']
const KEK = Buffer.alloc(32, 5).toString('base64url')

interface JsonKey { kid: string, alg: string, state: string, next: { state: string, at: string } | null, transitions: Array<{ state: string, reason: string }> }

const keysOf = (run: CliRun): JsonKey[] => jsonOf(run).keys as JsonKey[]
const statesOf = (run: CliRun): string[] => keysOf(run).map((key) => key.state)

async function keys (args: readonly string[], options: Parameters<typeof runCli>[1] = {}): Promise<CliRun> {
  return await runCli(['keys', ...args], options)
}

/** A store holding one active key. */
async function generated (t: { testdir: () => string }): Promise<string> {
  return await generatedIn(t.testdir())
}

/** A store holding one active key, in `folder` under `name`. */
async function generatedIn (folder: string, name = 'keys.json'): Promise<string> {
  const store = join(folder, name)
  const run = await keys(['generate', '--store', store])
  if (run.code !== 0) throw new Error(run.stderr)
  return store
}

t.test('an empty store: status says so (exit 1), generate creates the first key, once', async (t) => {
  const store = join(t.testdir(), 'keys.json')
  const empty = await keys(['status', '--store', store])
  t.equal(empty.code, 1)
  t.match(empty.stderr, `error: the key store ${store} holds no keys yet: webhook-jwt keys generate --store … creates the first`)
  const rotate = await keys(['rotate', '--store', store, '--json'])
  t.equal(rotate.code, 1)
  t.match(jsonOf(rotate), { error: { code: 'KEY_STORE_EMPTY' } })
  const first = await keys(['generate', '--store', store, '--algorithm', 'EdDSA', '--json'])
  t.equal(first.code, 0, first.stderr)
  t.match(jsonOf(first), { step: 'generate', store, rotationInProgress: false, transitions: [], keys: [{ state: 'active', alg: 'EdDSA', transitions: [{ state: 'active', reason: 'bootstrap' }] }] })
  t.equal(statSync(store).mode & 0o777, 0o600, 'the producer\'s own file store wrote it')
  const again = await keys(['generate', '--store', store, '--json'])
  t.equal(again.code, 1)
  t.match(jsonOf(again), { error: { code: 'KEY_STORE_NOT_EMPTY', message: /already holds keys \(revision 1\): use webhook-jwt keys rotate/ } })
})

t.test('status: a timeline per kid in the terminal, the keys with their times, JSON, and the demo\'s SVG', async (t) => {
  const store = await generated(t)
  // The producers' default windows: the switch is 10m30s away, whatever the machine's load.
  await keys(['rotate', '--store', store, '--no-wait'])
  const run = await keys(['status', '--store', store])
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.split('\n')
  t.equal(lines[0], `Key store ${store}, revision 2`)
  t.match(lines[1], /^UTC +\d\d:\d\d/)
  t.match(run.stdout, /\n\S{8}… +[█▒░·┄]+ +active since \d{4}-\d\d-\d\d \d\d:\d\dZ\n/)
  t.match(run.stdout, /\n\S{8}… +[█▒░·┄]+ +next → active \d{4}-\d\d-\d\d \d\d:\d\dZ\n/)
  t.match(run.stdout, /\^ now/)
  t.match(run.stdout, '░ next  █ active  ▒ retiring  · retired  ┄ planned')
  t.match(run.stdout, /\n {2}[\w-]{43} {2}ES256 {2}active since \S+Z \(\d+s ago\) \(bootstrap\)\n/)
  t.match(run.stdout, /\n {2}[\w-]{43} {2}ES256 {2}next since \S+Z \(\d+s ago\) \(rotation\), active \S+Z \(in 10m[23]\ds\)\n/)

  const svg = join(dirname(store), 'keys.svg')
  const json = await keys(['status', '--store', store, '--svg', svg, '--json'])
  t.equal(json.code, 0)
  t.match(jsonOf(json), { store, revision: 2, rotationInProgress: true, svg })
  t.same(statesOf(json), ['active', 'next'])
  const active = keysOf(json)[0] as JsonKey
  t.equal(jsonOf(json).activeKid, active.kid)
  t.match(keysOf(json)[1], { next: { state: 'active', at: /Z$/ }, transitions: [{ state: 'next', reason: 'rotation' }] })
  const picture = readFileSync(svg, 'utf8')
  t.match(picture, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.match(picture, `<g class="lane" data-kid="${active.kid}"`)
  t.match(picture, 'data-state="next"')

  const unwritable = await keys(['status', '--store', store, '--svg', join(dirname(store), 'missing', 'keys.svg')])
  t.equal(unwritable.code, 3)
  t.match(unwritable.stderr, /cannot write the picture to .*missing\/keys.svg: ENOENT/)
})

t.test('rotate follows the rotation to its end: each transition as the producer stores it', async (t) => {
  const folder = t.testdir()
  const [store, jsonStore] = [await generatedIn(folder), await generatedIn(folder, 'json-keys.json')]
  const before = keysOf(await keys(['status', '--store', store, '--json']))[0] as JsonKey
  const started = Date.now()
  // The text and the JSON report at once, each on its store: one rotation's wait for both.
  const [run, json] = await Promise.all([keys(['rotate', '--store', store, ...FAST]), keys(['rotate', '--store', jsonStore, ...FAST, '--json'])])
  t.equal(run.code, 0, run.stderr)
  t.ok(Date.now() - started >= 2000, 'it waited the publish lead and the retirement')
  t.match(run.stderr, 'Following the rotation until the old key is retired; Ctrl-C stops following, and the producers complete it.')
  const short = before.kid.slice(0, 8)
  t.match(run.stdout, new RegExp([
    '^\\S+Z {2}(\\S{8})… new → next \\(rotation\\); active at \\S+Z',
    '\\S+Z {2}\\1… next → active \\(rotation\\)',
    `\\S+Z {2}${short}… active → retiring \\(rotation\\); retired at \\S+Z`,
    `\\S+Z {2}${short}… retiring → retired \\(rotation\\)\\n`
  ].join('\\n')))
  const after = await keys(['status', '--store', store, '--json'])
  t.same(statesOf(after), ['retired', 'active'])

  t.equal(json.code, 0)
  t.match(jsonOf(json), { step: 'rotate', rotationInProgress: false, transitions: [{ from: null, to: 'next' }, { to: 'active' }, { from: 'active', to: 'retiring' }, { to: 'retired' }] })
})

t.test('rotate --no-wait publishes and returns; a rotation already running is joined, not doubled', async (t) => {
  const store = await generated(t)
  const run = await keys(['rotate', '--store', store, '--no-wait'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /^\S+Z {2}\S{8}… new → next \(rotation\); active at \S+Z\n/)
  t.match(run.stderr, /^[\w-]{43} signs \S+Z \(in 10m[23]\ds\), when a producer switches to it; the old key retires rotation.retireAfter after that.\n$/)
  const again = await keys(['rotate', '--store', store, '--no-wait', '--json'])
  t.equal(again.code, 0)
  t.match(jsonOf(again), { transitions: [], rotationInProgress: true })
  t.same(statesOf(again), ['active', 'next'], 'still one new key')
})

t.test('rotate refuses waits shorter than the store\'s past rotations, unless given by their flags', async (t) => {
  const store = await generated(t)
  await keys(['rotate', '--store', store, '--no-wait', '--publish-lead', '2h'])
  const refused = await keys(['rotate', '--store', store, '--no-wait'])
  t.equal(refused.code, 2)
  t.match(refused.stderr, 'error: the store\'s past rotations waited up to 2h where this one would wait 10m30s (--publish-lead, from the defaults of --jwks-max-age, --token-ttl and --clock-skew): your producers likely run with longer windows. Pass --publish-lead (or the flags it derives from) as they are configured; a value given is trusted.')
  const given = await keys(['rotate', '--store', store, '--no-wait', '--publish-lead', '2h'])
  t.equal(given.code, 0, given.stderr)
})

t.test('Ctrl-C stops following; the rotation stays in the store for the producers to complete', async (t) => {
  // built-command.test.ts sends the built command a real SIGINT.
  const store = await generated(t)
  const run = await keys(['rotate', '--store', store, ...FAST, '--retire-after', '2h'], { interruptWhen: 'active → retiring' })
  t.equal(run.code, 3)
  t.match(run.stderr, 'error: stopped following the rotation; the producers complete it on their schedule (webhook-jwt keys status shows where it is)')
  const status = await keys(['status', '--store', store, '--json'])
  t.same(statesOf(status), ['retiring', 'active'])
  t.match(keysOf(status)[0], { next: { state: 'retired' } })

  // That rotation retires its old key 2 h after the switch: a rotation on the defaults (5m30s) is refused.
  const refused = await keys(['rotate', '--store', store, '--no-wait'])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /waited up to 2h where this one would wait 5m30s \(--retire-after,/)
})

t.test('rollback: before the switch the new key is withdrawn; with nothing to undo, exit 1', async (t) => {
  const store = await generated(t)
  await keys(['rotate', '--store', store, '--no-wait'])
  const run = await keys(['rollback', '--store', store])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /^\S+Z {2}\S{8}… next → retired \(rollback\)\n/)
  const nothing = await keys(['rollback', '--store', store, '--json'])
  t.equal(nothing.code, 1)
  t.match(jsonOf(nothing), { error: { code: 'WEBHOOK_NOTHING_TO_ROLL_BACK', message: 'There is no previous key still published to roll back to' } })
})

t.test('revoke asks for --yes, unpublishes the key and hands signing on; an unknown kid is exit 1', async (t) => {
  const store = await generated(t)
  const kid = (keysOf(await keys(['status', '--store', store, '--json']))[0] as JsonKey).kid
  const unconfirmed = await keys(['revoke', kid, '--store', store])
  t.equal(unconfirmed.code, 2)
  t.match(unconfirmed.stderr, `error: revoking ${kid} unpublishes it at once: every token it signed that is still in flight will be refused as receivers refresh. Pass --yes to revoke it.`)
  const run = await keys(['revoke', kid, '--store', store, '--yes', '--json'])
  t.equal(run.code, 0, run.stderr)
  t.match(jsonOf(run), { step: 'revoke', transitions: [{ kid, from: 'active', to: 'retired', reason: 'revoke' }, { from: null, to: 'active', reason: 'revoke' }] })
  t.not(jsonOf(run).activeKid, kid)
  const unknown = await keys(['revoke', 'no-such-kid', '--store', store, '--yes'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, 'error: No published key has the kid no-such-kid')
  const picture = await keys(['status', '--store', store])
  t.match(picture.stdout, /✕/)
})

t.test('a hand-edited store: a key without history, and no key signing, are listed as they are', async (t) => {
  const store = await generated(t)
  const document = JSON.parse(readFileSync(store, 'utf8')) as { keys: Array<Record<string, unknown>> }
  document.keys = document.keys.map((key) => ({ ...key, state: 'retired', privateKey: null, scheduled: null, transitions: [] }))
  writeFileSync(store, JSON.stringify(document), { mode: 0o600 })
  const run = await keys(['status', '--store', store, '--json'])
  t.equal(run.code, 0, run.stderr)
  t.match(jsonOf(run), { activeKid: null, rotationInProgress: false, keys: [{ state: 'retired', transitions: [] }] })
  const text = await keys(['status', '--store', store])
  t.match(text.stdout, /\n {2}[\w-]{43} {2}ES256 {2}retired\n/)
})

t.test('a store that cannot be used is a clear error, exit code 3', async (t) => {
  const folder = t.testdir({ 'corrupt.json': '{"revision": 1, "format": "webhook-jwt/key-set@1", "keys": "none"}', 'open.json': '{}' })
  chmodSync(join(folder, 'corrupt.json'), 0o600)
  chmodSync(join(folder, 'open.json'), 0o644)
  const corrupt = await keys(['status', '--store', join(folder, 'corrupt.json'), '--json'])
  t.equal(corrupt.code, 3)
  t.match(jsonOf(corrupt), { error: { code: 'WEBHOOK_KEY_STORE_CORRUPT', message: /does not hold a valid key set: it has no keys array/ } })
  const open = await keys(['rotate', '--store', join(folder, 'open.json')])
  t.equal(open.code, 3)
  t.match(open.stderr, /has mode 0644: users other than its owner can read or change private keys. Run chmod 600 on it./)
  const directory = await keys(['status', '--store', folder])
  t.equal(directory.code, 3)
  t.match(directory.stderr, /cannot be used: it is not a regular file/)
})

t.test('encrypted at rest: status needs no key-encryption key, steps need the right one', async (t) => {
  const folder = t.testdir({ kek: `${KEK}\n` })
  const store = join(folder, 'keys.json')
  const first = await keys(['generate', '--store', store, '--key-encryption-key-file', join(folder, 'kek')])
  t.equal(first.code, 0, first.stderr)
  t.notMatch(readFileSync(store, 'utf8'), /"d"/)
  t.equal((await keys(['status', '--store', store])).code, 0)
  const without = await keys(['rotate', '--store', store, '--no-wait'])
  t.equal(without.code, 3)
  t.match(without.stderr, /error: The private key \S+ cannot be decrypted/)
  const fromEnv = await keys(['rotate', '--store', store, '--no-wait'], { env: { WEBHOOK_JWT_KEY_ENCRYPTION_KEY: KEK } })
  t.equal(fromEnv.code, 0, fromEnv.stderr)
  const missingFile = await keys(['rotate', '--store', store, '--key-encryption-key-file', join(folder, 'nope')])
  t.equal(missingFile.code, 3)
  t.match(missingFile.stderr, /cannot read the key-encryption key file .*nope: ENOENT/)
  const short = await keys(['rollback', '--store', store], { env: { WEBHOOK_JWT_KEY_ENCRYPTION_KEY: 'too-short' } })
  t.equal(short.code, 2)
  t.match(short.stderr, /^error: WEBHOOK_JWT_KEY_ENCRYPTION_KEY \(or --key-encryption-key-file\) must be 32 random bytes/)
})

t.test('flags the producer refuses are named as flags, exit code 2', async (t) => {
  const store = await generated(t)
  const cases: Array<[string[], RegExp]> = [
    [['--token-ttl', 'soon'], /^error: --token-ttl must be a duration/],
    [['--publish-lead', '1m'], /^error: --publish-lead must be at least jwks.maxAge \+ clockSkew \(10m30s\): receivers may cache the key set/],
    [['--retire-after', '1s'], /^error: --retire-after must be at least tokenTtl \+ clockSkew \(5m30s\)/],
    [['--algorithm', 'HS256'], /^error: --algorithm must be one of ES256, EdDSA, ES384, RS256, PS256/],
    [['--rsa-bits', '1024', '--algorithm', 'RS256'], /^error: --rsa-bits must be a whole number of bytes in bits, from 2048/],
    [['--prefix', 'x:'], /^error: --prefix and --max-staleness apply to a Redis store \(--store redis:\/\/…\) only/]
  ]
  for (const [flags, message] of cases) {
    const run = await keys(['rotate', '--store', store, '--no-wait', ...flags])
    t.equal(run.code, 2, flags.join(' '))
    t.match(run.stderr, message)
  }
  t.same(statesOf(await keys(['status', '--store', store, '--json'])), ['active'], 'nothing was stored')
  const help = await keys(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Commands:\n {2}status \[options\][\s\S]*rotate[\s\S]*rollback[\s\S]*revoke \[options\] <kid>[\s\S]*generate/)
  const rotateHelp = await keys(['rotate', '--help'])
  t.match(rotateHelp.stdout, /Example:\n {2}\$ webhook-jwt keys rotate --store/)
})

t.test('a Redis store: the replicas\' shared store, with its key-encryption key', async (t) => {
  const url = await redisOrSkip(t, 'webhook-jwt keys on a Redis store')
  if (url === null) return
  const prefix = uniquePrefix('cli-keys')
  t.teardown(async () => await deleteKeys(url, prefix))
  const env = { WEBHOOK_JWT_KEY_ENCRYPTION_KEY: KEK }
  // The shortest staleness a Redis store takes: each wait grows by it, to 2 s.
  const target = ['--store', url, '--prefix', prefix, '--max-staleness', '1s']
  const noKek = await keys(['generate', ...target])
  t.equal(noKek.code, 2)
  t.match(noKek.stderr, /^error: WEBHOOK_JWT_KEY_ENCRYPTION_KEY \(or --key-encryption-key-file\) is required with the key store redis /)
  const first = await keys(['generate', ...target, '--json'], { env })
  t.equal(first.code, 0, first.stderr)
  // A store that does not answer, checked while the rotation waits.
  const port = await freePort()
  const started = Date.now()
  const [rotated, down] = await Promise.all([
    keys(['rotate', ...target, ...FAST, '--json'], { env }),
    keys(['status', '--store', `redis://127.0.0.1:${port}`, '--timeout', '1s'])
  ])
  t.equal(rotated.code, 0, rotated.stderr)
  t.match(jsonOf(rotated), { store: `redis ${prefix}`, transitions: [{ to: 'next' }, { to: 'active' }, { to: 'retiring' }, { to: 'retired' }] })
  const status = await keys(['status', ...target, '--json'])
  t.same(statesOf(status), ['retired', 'active'])
  t.match(jsonOf(status), { store: `redis ${prefix}`, revision: 4 })
  t.equal(down.code, 3)
  t.match(down.stderr, /error: The key store redis webhook-jwt:\{signing-keys\}: cannot be used: /)
  t.ok(Date.now() - started < 10_000, 'bounded by --timeout')
})

t.test('a Redis store without @webhook-jwt/redis installed: the package to install, exit code 3', async (t) => {
  const store = { store: 'redis://127.0.0.1:6379', timeout: '1s' }
  // Loading fails as it does where the package is not installed: Node's own error for a package that is not. (By
  // require: tap's TypeScript loader re-throws import()'s without its code, which Node's import() error has.)
  const notInstalled = async (): Promise<never> => createRequire(import.meta.url)('@webhook-jwt/not-installed') as never
  await t.rejects(openKeyStore(store, notInstalled), {
    name: 'CliError',
    code: 'REDIS_NOT_INSTALLED',
    exitCode: 3,
    message: /^a Redis key store \(--store redis:\/\/…\) needs the package @webhook-jwt\/redis: npm install @webhook-jwt\/redis \(Cannot find module '@webhook-jwt\/not-installed'/
  })
  // A package that is there but fails to load is not said to be missing.
  const broken = async (): Promise<never> => await (import('data:text/javascript,throw new Error("broken at load")' as string) as Promise<never>)
  await t.rejects(openKeyStore(store, broken), { message: 'broken at load' })
})
