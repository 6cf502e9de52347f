import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import type { JWK } from 'jose'
import t from 'tap'
import { JWKS_DEFAULTS } from '@webhook-jwt/consumer'
import producer, { memoryKeyStore } from '@webhook-jwt/producer'
import { keyIdOf } from '@webhook-jwt/protocol'
import { closedPort, serveAnswers } from './helpers/jwks-server.ts'
import { jsonOf, runCli, type CliRun, type CliRunOptions } from './helpers/run-cli.ts'

/** ANSI escape sequences start with this. */
const ESC = '\u001b['
const JWKS_TYPE = { 'content-type': 'application/jwk-set+json' }

const jwkOf = (key: KeyObject): JWK => key.export({ format: 'jwk' }) as JWK
const ecPair = (namedCurve = 'P-256'): { publicKey: KeyObject, privateKey: KeyObject } => generateKeyPairSync('ec', { namedCurve })
const rsaPair = (modulusLength: number, publicExponent = 65537): { publicKey: KeyObject, privateKey: KeyObject } => generateKeyPairSync('rsa', { modulusLength, publicExponent })

/** A key as the protocol publishes it: its thumbprint as kid, then `extra` (alg, use…). */
async function published (jwk: JWK, extra: Record<string, unknown> = {}): Promise<JWK> {
  return { ...jwk, kid: await keyIdOf(jwk), ...extra }
}

const rsa2048 = rsaPair(2048)
const clean = [
  await published(jwkOf(ecPair().publicKey), { alg: 'ES256', use: 'sig' }),
  await published(jwkOf(generateKeyPairSync('ed25519').publicKey), { alg: 'EdDSA', use: 'sig' }),
  await published(jwkOf(rsa2048.publicKey), { use: 'sig' })
]
const cleanKids = clean.map((key) => key.kid as string)
const good = await published(jwkOf(ecPair().publicKey), { alg: 'ES256', use: 'sig' })

/** Every problem a key can have, one or two per key; the expected codes by index. */
const problemKeys: Array<[unknown, string[]]> = [
  [good, []],
  [await published(jwkOf(rsaPair(1024).publicKey), { alg: 'RS256' }), ['weak-rsa']],
  [await published({ kty: 'oct', k: randomBytes(32).toString('base64url') }), ['symmetric-key']],
  [await published(jwkOf(ecPair().privateKey)), ['private-key']],
  [await published(jwkOf(rsa2048.privateKey)), ['private-key']],
  [jwkOf(ecPair().publicKey), ['missing-kid']],
  [good, ['duplicate-kid']],
  [{ ...jwkOf(ecPair().publicKey), kid: 'evil\u001b[2J\u009b' }, ['kid-not-thumbprint']],
  [{ kty: 'EC', crv: 'P-256', x: 'AAAA', kid: 'broken' }, ['unparseable-key']],
  [{ kty: 'RSA', n: 'AAAA', kid: 'no-exponent' }, ['rsa-exponent', 'unparseable-key']],
  [await published(jwkOf(ecPair('P-521').publicKey)), ['unsupported-key']],
  [await published(jwkOf(rsaPair(2048).publicKey), { alg: 'RS512' }), ['unsupported-key']],
  [await published(jwkOf(ecPair().publicKey), { use: 'enc' }), ['not-for-signing']],
  [await published(jwkOf(ecPair().publicKey), { key_ops: ['encrypt'] }), ['not-for-signing']],
  [await published(jwkOf(rsaPair(2048, 3).publicKey)), ['rsa-exponent']],
  [42, ['not-a-jwk']]
]
const problemCodes = problemKeys.flatMap(([, codes], index) => codes.map((problem) => ({ index, problem })))

/** 51 keys, more than the consumer's default maxKeys, padded past its default maxBytes. */
const crowded = { keys: await Promise.all(Array.from({ length: 51 }, async () => await published(jwkOf(ecPair().publicKey)))), padding: 'x'.repeat(70_000) }

const base = await serveAnswers(t, {
  '/clean': {
    headers: { ...JWKS_TYPE, 'cache-control': 'public, max-age=600', age: '30', etag: '"v1"', 'last-modified': new Date(Date.now() - 3600_000).toUTCString() },
    body: JSON.stringify({ keys: clean })
  },
  '/problems': { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys: problemKeys.map(([key]) => key) }) },
  '/crowded': { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', date: 'soon' }, body: JSON.stringify(crowded), sendDate: false },
  '/untyped': { headers: { 'cache-control': 'public' }, body: JSON.stringify({ keys: [good] }), sendDate: false },
  '/moved': { status: 302, headers: { location: '/clean' }, body: '' },
  '/html': { headers: { 'content-type': 'text/html' }, body: '<!doctype html><title>Sign in</title>' },
  '/array': { headers: JWKS_TYPE, body: '[{"kty":"EC"}]' },
  '/huge': { headers: JWKS_TYPE, body: 'x'.repeat(1024 * 1024 + 1) },
  '/hang': () => {},
  '/hang-up': (request) => { request.socket.destroy() }
})

const directory = mkdtempSync(join(tmpdir(), 'webhook-jwt-jwks-'))
t.teardown(() => { rmSync(directory, { recursive: true, force: true }) })

/** A command line to run, with its input or environment. */
interface CommandLine { args: string[], options?: CliRunOptions }

/** Runs command lines side by side, in this process, and resolves their runs in order. */
async function runAll (lines: readonly CommandLine[]): Promise<CliRun[]> {
  return await Promise.all(lines.map(async ({ args, options }) => await runCli(args, options)))
}

/** The lines of a run's output, for matching one line at a time. */
const linesOf = (run: CliRun): string[] => run.stdout.split('\n')

t.test('a clean set over HTTP: its keys, caching headers, the consumer\'s verdict; exit code 0', async (t) => {
  const [text, json, present, absent] = await runAll([
    { args: ['jwks', `${base}/clean`] },
    { args: ['jwks', `${base}/clean`, '--json', '--kid', cleanKids[1] as string] },
    { args: ['jwks', `${base}/clean`, '--kid', cleanKids[2] as string] },
    { args: ['jwks', `${base}/clean`, '--kid', 'gone'] }
  ]) as [CliRun, CliRun, CliRun, CliRun]
  t.equal(text.code, 0)
  t.equal(text.stderr, '')
  t.notMatch(text.stdout, ESC, 'no colour in a pipe')
  t.match(text.stdout, new RegExp(`^Key set {2}${base}/clean {2}200 OK, application/jwk-set\\+json, \\d+ bytes\\nCaching\\n`))
  t.match(text.stdout, /\n {2}Cache-Control {2}public, max-age=600 {2}\(verifiers may cache it for 10m\)\n {2}Age {12}30s in a cache before this answer\n {2}Date {11}\w{3}, .+ GMT \((now|\ds ago)\)\n {2}ETag {11}"v1"\n {2}Last-Modified {2}\w{3}, .+ GMT \(1h(\d+s)? ago\)\n {2}a consumer keeps it 9m30s before fetching it again \(from Cache-Control and Age, between 1s and its jwks.cacheMaxAge, 10m by default\)\n/)
  t.match(text.stdout, /\nKeys \(3\)\n {2}# {2}kid {42}kty {2}crv\/size {3}alg {4}use {2}kid is thumbprint\n/)
  t.ok(linesOf(text).includes(`  0  ${cleanKids[0]}  EC   P-256      ES256  sig  ✓`))
  t.ok(linesOf(text).includes(`  1  ${cleanKids[1]}  OKP  Ed25519    EdDSA  sig  ✓`))
  t.ok(linesOf(text).includes(`  2  ${cleanKids[2]}  RSA  2048 bits  -      sig  ✓`))
  t.notMatch(text.stdout, /Problems/)
  t.match(text.stdout, /\n✓ a consumer accepts this key set: 3 of 3 keys usable\n$/)

  t.equal(json.code, 0)
  const document = jsonOf(json)
  t.match(document, {
    source: {
      url: `${base}/clean`,
      status: 200,
      statusText: 'OK',
      contentType: 'application/jwk-set+json',
      headers: { cacheControl: 'public, max-age=600', etag: '"v1"', age: '30', date: /GMT$/, lastModified: /GMT$/ },
      cache: { maxAgeSeconds: 600, noStore: false, ageSeconds: 30, freshForSeconds: 570, consumerKeepsSeconds: 570 },
      bytes: Number
    },
    consumer: { accepts: true },
    kid: { kid: cleanKids[1], present: true, index: 1, usable: true }
  })
  t.same(document.keys, [
    { index: 0, kid: cleanKids[0], kty: 'EC', crv: 'P-256', bits: null, alg: 'ES256', use: 'sig', algorithms: ['ES256'], thumbprint: cleanKids[0], thumbprintKid: true },
    { index: 1, kid: cleanKids[1], kty: 'OKP', crv: 'Ed25519', bits: null, alg: 'EdDSA', use: 'sig', algorithms: ['EdDSA'], thumbprint: cleanKids[1], thumbprintKid: true },
    { index: 2, kid: cleanKids[2], kty: 'RSA', crv: null, bits: 2048, alg: null, use: 'sig', algorithms: ['RS256', 'PS256'], thumbprint: cleanKids[2], thumbprintKid: true }
  ])
  t.same(document.problems, [])
  t.same((document.consumer as { usableKids: string[] }).usableKids, cleanKids)

  t.equal(present.code, 0, '--kid present: yes')
  t.match(present.stdout, new RegExp(`\\n✓ kid ${cleanKids[2]} is present \\(keys\\[2\\], RS256 or PS256\\)\\n$`))
  t.equal(absent.code, 1, '--kid absent: no')
  t.match(absent.stdout, `\n✗ kid gone is NOT in this key set (kids: ${cleanKids.join(', ')})\n`)
})

t.test('each problem a key can have is listed against its key; exit code 1', async (t) => {
  const [text, json, present] = await runAll([
    { args: ['jwks', `${base}/problems`, '--kid', 'nope'] },
    { args: ['jwks', `${base}/problems`, '--json'] },
    { args: ['jwks', `${base}/problems`, '--kid', good.kid as string] }
  ]) as [CliRun, CliRun, CliRun]
  t.equal(text.code, 1)
  t.equal(text.stderr, '')
  t.notMatch(text.stdout, ESC, 'a kid\'s control characters are escaped, never sent to the terminal')
  t.notMatch(text.stdout, '\u009b')
  t.match(text.stdout, /\n {2}7 +evil\\u001b\[2J\\u009b +EC +P-256 +- +- +✗\n/)
  t.match(text.stdout, /\n {2}8 +broken +EC +P-256 +- +- +✗\n/)
  t.match(text.stdout, /\n {2}15 {2}- +- +- +- +- +✗\n/)
  t.match(text.stdout, `\nProblems (${problemCodes.length})\n`)
  t.match(text.stdout, /\n {2}! keys\[1\]: is an RSA key of 1024 bits, under 2048: a consumer refuses the whole set\n/)
  t.match(text.stdout, /\n {2}! keys\[2\]: is a symmetric key \(kty "oct"\): its secret is published/)
  t.match(text.stdout, /\n {2}! keys\[3\]: has the private member d: the private key is published, replace it/)
  t.match(text.stdout, /\n {2}! keys\[4\]: has the private members d, p, q, dp, dq, qi:/)
  t.match(text.stdout, /\n {2}! keys\[5\]: has no kid: no token can name it, so a consumer skips it\n/)
  t.match(text.stdout, `\n  ! keys[6]: its kid "${good.kid as string}" also names keys[0]: a consumer refuses the whole set\n`)
  t.match(text.stdout, /\n {2}! keys\[7\]: its kid "evil\\u001b\[2J\\u009b" is not its RFC 7638 thumbprint [\w-]{43}: a consumer \(which requires thumbprint kids by default\) refuses the whole set\n/)
  t.match(text.stdout, /\n {2}! keys\[8\]: is not a valid public key/)
  t.match(text.stdout, /\n {2}9 +no-exponent +RSA +- +- +- +✗\n/, 'an RSA key that cannot be read has no size')
  t.match(text.stdout, /\n {2}! keys\[9\]: is an RSA key with an exponent other than 65537: a consumer refuses the whole set\n {2}! keys\[9\]: is not a valid public key/)
  t.match(text.stdout, /\n {2}! keys\[10\]: kty EC, crv P-521 is for none of the protocol's algorithms \(ES256, EdDSA, ES384, RS256, PS256\): a consumer skips it\n/)
  t.match(text.stdout, /\n {2}! keys\[11\]: kty RSA, alg RS512 is for none of the protocol's algorithms/)
  t.match(text.stdout, /\n {2}! keys\[12\]: use is "enc", not "sig": a consumer skips it\n/)
  t.match(text.stdout, /\n {2}! keys\[13\]: its key_ops do not include "verify": a consumer skips it\n/)
  t.match(text.stdout, /\n {2}! keys\[14\]: is an RSA key with an exponent other than 65537/)
  t.match(text.stdout, /\n {2}! keys\[15\]: is not a JWK \(a JSON object\)/)
  t.match(text.stdout, /\n✗ a consumer refuses this key set whole: keys\[1\] is an RSA key under 2048 bits \(it keeps the last set it accepted\)\n/)
  const kids = [...new Set(problemKeys.flatMap(([key]) => typeof (key as JWK).kid === 'string' ? [(key as JWK).kid as string] : []))].join(', ').replace('\u001b', '\\u001b').replace('\u009b', '\\u009b')
  t.ok(text.stdout.endsWith(`\n✗ kid nope is NOT in this key set (kids: ${kids})\n`), 'the kids there are, escaped; keys without one left out')
  t.match(text.stdout, /\n {2}Cache-Control {2}none {2}\(no max-age: each verifier picks how long to cache it\)\n/)
  t.match(text.stdout, /\n {2}ETag {11}none\n/)

  t.equal(json.code, 1)
  const document = jsonOf(json)
  t.same((document.problems as Array<{ index: number, problem: string }>).map(({ index, problem }) => ({ index, problem })), problemCodes)
  t.same(document.consumer, { accepts: false, reason: 'keys[1] is an RSA key under 2048 bits', usableKids: [] })
  t.match(document.keys, [{ index: 0, thumbprintKid: true }, { index: 1, kty: 'RSA', bits: 1024 }, { index: 2, kty: 'oct', bits: null }])
  t.notOk('kid' in document, 'no kid member without --kid')

  t.equal(present.code, 1, 'the kid is there, but the set has problems')
  t.match(present.stdout, `\n✓ kid ${good.kid as string} is present (keys[0], ES256), but a consumer does not verify with it\n`)
})

t.test('set-wide problems: media type, size, number of keys; no-store and no max-age', async (t) => {
  const crowdedFile = join(directory, 'crowded.json')
  writeFileSync(crowdedFile, JSON.stringify(crowded))
  const [crowdedText, crowdedJson, untyped, fromFile] = await runAll([
    { args: ['jwks', `${base}/crowded`] },
    { args: ['jwks', `${base}/crowded`, '--json'] },
    { args: ['jwks', `${base}/untyped`] },
    { args: ['jwks', crowdedFile, '--json'] }
  ]) as [CliRun, CliRun, CliRun, CliRun]
  t.equal(crowdedText.code, 1)
  t.match(crowdedText.stdout, /\n {2}Cache-Control {2}no-store {2}\(verifiers may not reuse it without asking again\)\n {2}Date {11}soon\n {2}ETag {11}none\n {2}a consumer keeps it 1s before fetching it again/)
  t.match(crowdedText.stdout, /\n✗ a consumer refuses this key set whole: the key set endpoint answered with a media type other than JSON \(it keeps the last set it accepted\)\n$/)
  t.equal(crowdedJson.code, 1)
  const document = jsonOf(crowdedJson) as { source: { bytes: number }, problems: unknown, consumer: unknown }
  t.same(document.problems, [
    { index: null, problem: 'media-type', message: 'the content-type is text/plain; charset=utf-8, not application/jwk-set+json: a consumer refuses the answer' },
    { index: null, problem: 'too-large', message: `it is ${document.source.bytes} bytes, more than the consumer's default jwks.maxBytes (65536): a consumer refuses it` },
    { index: null, problem: 'too-many-keys', message: 'it has 51 keys, more than the consumer\'s default jwks.maxKeys (50): a consumer refuses it' }
  ])
  t.match(document, { source: { headers: { cacheControl: 'no-store', date: 'soon', etag: null, age: null }, cache: { maxAgeSeconds: null, noStore: true, freshForSeconds: 0, consumerKeepsSeconds: 1 } } })
  t.same(document.consumer, { accepts: false, reason: 'the key set endpoint answered with a media type other than JSON', usableKids: [] })

  t.equal(untyped.code, 1)
  t.match(untyped.stdout, /, no content-type, \d+ bytes\n/)
  t.match(untyped.stdout, /\n {2}Cache-Control {2}public {2}\(no max-age: each verifier picks how long to cache it\)\n/)
  t.match(untyped.stdout, /a consumer keeps it 10m before fetching it again/)
  t.match(untyped.stdout, /\n {2}! the set: the content-type is missing, not application\/jwk-set\+json/)
  t.notMatch(untyped.stdout, /\n {2}Date/, 'no Date header, no Date line')

  t.equal(fromFile.code, 1, 'a file is checked for the size a consumer takes, not for a media type')
  t.match(jsonOf(fromFile), {
    problems: [{ problem: 'too-large' }, { problem: 'too-many-keys' }],
    consumer: { accepts: false, reason: 'the key set is larger than jwks.maxBytes (65536 bytes)' }
  })
  t.equal((jsonOf(fromFile).problems as unknown[]).length, 2)
})

t.test('a file and standard input: no caching block; an empty set has no usable key', async (t) => {
  // A key from an Infineon generator with the ROCA weakness (Wycheproof's vector): no per-key rule of this
  // command names it, so the consumer's refusal is the problem.
  const vectors = JSON.parse(readFileSync(new URL('../../consumer/test/vectors/wycheproof/json_web_key_test.json', import.meta.url), 'utf8')) as { testGroups: Array<{ public?: { keys: JWK[] } }> }
  const { kid: _vectorKid, ...roca } = vectors.testGroups.flatMap((group) => group.public?.keys ?? []).find((key) => key.kid === 'kid-rsa-roca-sign') as JWK
  const rocaFile = join(directory, 'roca.json')
  writeFileSync(rocaFile, JSON.stringify({ keys: [await published(roca)] }))

  const [piped, empty, file] = await runAll([
    { args: ['jwks', '-', '--kid', cleanKids[0] as string], options: { input: JSON.stringify({ keys: clean }) } },
    { args: ['jwks', '-', '--kid', 'nope'], options: { input: '{"keys":[]}' } },
    { args: ['jwks', rocaFile, '--json'] }
  ]) as [CliRun, CliRun, CliRun]
  t.equal(piped.code, 0)
  t.match(piped.stdout, /^Key set {2}standard input, \d+ bytes\nKeys \(3\)\n/)
  t.match(piped.stdout, `\n✓ kid ${cleanKids[0] as string} is present (keys[0], ES256)\n`)

  t.equal(empty.code, 1)
  t.equal(empty.stdout, [
    'Key set  standard input, 11 bytes',
    'Keys (0)',
    'Problems (1)',
    '  ! the set: a consumer takes this set but finds no key in it to verify a webhook token with',
    '✓ a consumer accepts this key set: 0 of 0 keys usable',
    '✗ kid nope is NOT in this key set (kids: none)',
    ''
  ].join('\n'))

  t.equal(file.code, 1)
  t.match(jsonOf(file), {
    source: { file: rocaFile, bytes: Number },
    keys: [{ kty: 'RSA', bits: Number, thumbprintKid: true }],
    problems: [{ index: null, problem: 'refused', message: 'a consumer refuses it: keys[0] is an RSA key with the ROCA weakness (CVE-2017-15361)' }],
    consumer: { accepts: false }
  })
})

t.test('what cannot be fetched, read or parsed is a clear error; exit code 3', async (t) => {
  const port = await closedPort()
  const missing = join(tmpdir(), 'webhook-jwt-no-such-dir', 'jwks.json')
  const cases: Array<[string[], RegExp]> = [
    [[`${base}/nothing`], new RegExp(`^${base}/nothing answered 404 Not Found, not 200$`)],
    [[`${base}/moved`], /answered 302 Found, a redirect to \/clean: a consumer does not follow redirects, configure it with the final URL$/],
    [[`${base}/html`], new RegExp(`^the answer from ${base}/html is not JSON, so it is no JWK Set$`)],
    [[`${base}/array`], /is JSON but not a JWK Set \(an object with a "keys" array\)$/],
    [[`${base}/huge`], /is larger than 1048576 bytes: that is no key set$/],
    [[`${base}/hang`, '--timeout', '300ms'], new RegExp(`^${base}/hang did not answer in full within 300 ms \\(--timeout\\)$`)],
    [[`${base}/hang-up`], new RegExp(`^cannot reach ${base}/hang-up: UND_ERR_SOCKET$`)],
    [[`http://127.0.0.1:${port}/jwks.json`], new RegExp(`^cannot reach http://127.0.0.1:${port}/jwks.json: ECONNREFUSED \\(nothing listens on that port\\)$`)],
    [[missing], /^cannot read the key set file .*jwks\.json: ENOENT$/],
    [['-'], /^standard input is not JSON, so it is no JWK Set$/],
    [[fileURLToPath(new URL('../package.json', import.meta.url))], /^the file .*package\.json is JSON but not a JWK Set/]
  ]
  const runs = await runAll(cases.map(([args]) => ({ args: ['jwks', ...args], options: { input: 'not json' } })))
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i] as CliRun
    t.equal(run.code, 3, args.join(' '))
    t.equal(run.stdout, '')
    t.match(run.stderr.replace(/^error: /, '').trimEnd(), message)
  }
  const json = await runCli(['jwks', `http://127.0.0.1:${port}/`, '--json'])
  t.equal(json.code, 3)
  t.match(jsonOf(json), { error: { code: 'JWKS_UNREACHABLE', message: /ECONNREFUSED/ } })
})

t.test('usage: another scheme, a bad URL, a bad --timeout, no argument; help with an example', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['ftp://sender.test/jwks.json'], /only http:\/\/ and https:\/\/ URLs can be fetched \(got ftp:\/\/sender.test\/jwks.json\); for a file, give its path/],
    [['http://exa mple/jwks.json'], /http:\/\/exa mple\/jwks.json is not a valid URL/],
    [['x.json', '--timeout', 'soon'], /"--timeout" must be a duration in seconds/],
    [['x.json', '--timeout', '0'], /"--timeout" must be more than 0/],
    [[], /missing required argument 'source'/]
  ]
  const [help, top, ...runs] = await runAll([
    { args: ['jwks', '--help'] },
    { args: ['--help'] },
    ...cases.map(([args]) => ({ args: ['jwks', ...args] }))
  ]) as [CliRun, CliRun, ...CliRun[]]
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i] as CliRun
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, message)
  }
  t.equal(help.code, 0)
  t.match(help.stdout, `(default: "${JWKS_DEFAULTS.timeout}s")`, 'the consumer\'s jwks.timeout')
  t.match(help.stdout, /Usage: webhook-jwt jwks \[options\] <source>[\s\S]*--kid <kid>[\s\S]*--timeout <duration>[\s\S]*\(default: "5s"\)[\s\S]*Example:\n {2}\$ webhook-jwt jwks https:\/\/sender.example\/.well-known\/jwks.json --kid /)
  t.match(top.stdout, /\n {2}jwks \[options\] <source> +list a key set's keys/)
})

t.test('colours on request of the environment: verdicts, marks and headings', async (t) => {
  const p521 = (problemKeys[10] as [JWK, string[]])[0].kid as string
  const run = await runCli(['jwks', `${base}/problems`, '--kid', p521], { env: { FORCE_COLOR: '1' } })
  t.equal(run.code, 1)
  t.match(run.stdout, `${ESC}1mKey set${ESC}22m`)
  t.match(run.stdout, `${ESC}2m#   kid`)
  t.match(run.stdout, `ES256  sig  ${ESC}32m✓${ESC}39m\n`)
  t.match(run.stdout, `  -      -    ${ESC}31m✗${ESC}39m\n`)
  t.match(run.stdout, `${ESC}31mProblems (${problemCodes.length})${ESC}39m`)
  t.match(run.stdout, `  ${ESC}31m!${ESC}39m keys[1]: `)
  t.match(run.stdout, `${ESC}31m✗${ESC}39m a consumer refuses this key set whole`)
  t.match(run.stdout, `${ESC}33m✓${ESC}39m kid ${p521} is present (keys[10], no protocol algorithm), but a consumer does not verify with it\n`)
  t.notMatch(run.stdout, '\u001b[2J', 'no escape sequence from the key set itself')
})

t.test('the producer\'s own endpoint: thumbprint kids, its max-age, its ETag; exit code 0', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(producer, { issuer: 'https://sender.test', keyStore: memoryKeyStore(), jwks: { maxAge: 300 } })
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const kid = app.webhooks.status().activeKid as string
  const url = `${address}/.well-known/jwks.json`
  const [text, json] = await runAll([{ args: ['jwks', url, '--kid', kid] }, { args: ['jwks', url, '--json'] }]) as [CliRun, CliRun]
  t.equal(text.code, 0)
  t.match(text.stdout, new RegExp(`^Key set {2}${url} {2}200 OK, application/jwk-set\\+json, \\d+ bytes\\n`))
  t.match(text.stdout, /\n {2}Cache-Control {2}public, max-age=300 {2}\(verifiers may cache it for 5m\)\n/)
  t.match(text.stdout, /\n {2}ETag {11}"[\w-]{43}"\n/)
  t.match(text.stdout, /a consumer keeps it 5m before fetching it again/)
  t.ok(linesOf(text).includes(`  0  ${kid}  EC   P-256     ES256  sig  ✓`))
  t.match(text.stdout, `\n✓ a consumer accepts this key set: 1 of 1 key usable\n✓ kid ${kid} is present (keys[0], ES256)\n`)
  t.equal(json.code, 0)
  t.match(jsonOf(json), { keys: [{ kid, thumbprint: kid, thumbprintKid: true }], problems: [], consumer: { accepts: true, usableKids: [kid] }, source: { cache: { maxAgeSeconds: 300 } } })
})
