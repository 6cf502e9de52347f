import t from 'tap'
import { jsonOf, runCli } from './helpers/run-cli.ts'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const nowSec = (): number => Math.floor(Date.now() / 1000)
/** ANSI escape sequences start with this. */
const ESC = '\u001b['
const SIGNATURE = Buffer.alloc(64, 1).toString('base64url')

function token (header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${b64(header)}.${b64(claims)}.${SIGNATURE}`
}

function goodClaims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSec()
  return { iss: 'https://sender.test', aud: 'https://receiver.test/hooks', iat: now - 10, exp: now + 290, jti: 'j1', webhook_id: 'wh_1', body_sha256: 'x'.repeat(43), ...overrides }
}

const GOOD_HEADER = { alg: 'ES256', typ: 'webhook+jwt', kid: 'kid-1' }

t.test('a protocol token decodes with no warnings, times absolute and relative', async (t) => {
  const run = await runCli(['decode', token(GOOD_HEADER, goodClaims())])
  t.equal(run.code, 0)
  t.equal(run.stderr, '')
  t.match(run.stdout, /^Header\n {2}alg {2}ES256\n {2}typ {2}webhook\+jwt\n {2}kid {2}kid-1\nClaims\n/)
  t.match(run.stdout, /iat +\d+ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(1\ds ago\)/)
  t.match(run.stdout, /exp +\d+ {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 4m\d\ds\)/)
  t.match(run.stdout, /Signature {2}64 bytes, not checked here/)
  t.notMatch(run.stdout, /Warnings/)
  t.notMatch(run.stdout, ESC, 'no colour in a pipe')
})

t.test('--json prints the header, claims and warnings for scripts', async (t) => {
  const claims = goodClaims({ exp: nowSec() - 180, iat: nowSec() - 480 })
  const run = await runCli(['decode', token(GOOD_HEADER, claims), '--json'])
  t.equal(run.code, 0)
  t.match(jsonOf(run), { header: GOOD_HEADER, claims, signatureBytes: 64, warnings: [/^expired 3m\d*s? ago$/] })
  t.equal((jsonOf(run).warnings as string[]).length, 1)
})

t.test('warnings: no kid, unexpected typ, expired, issued in the future, a long lifetime, missing claims', async (t) => {
  const now = nowSec()
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    ['no kid', { alg: 'ES256', typ: 'webhook+jwt' }, goodClaims(), /no kid in the header: .*WEBHOOK_TOKEN_MALFORMED/],
    ['typ JWT', { ...GOOD_HEADER, typ: 'JWT' }, goodClaims(), /typ is "JWT", not "webhook\+jwt": .*WEBHOOK_TOKEN_TYPE_INVALID/],
    ['no typ', { alg: 'ES256', kid: 'k' }, goodClaims(), /typ is missing/],
    ['alg none', { ...GOOD_HEADER, alg: 'none' }, goodClaims(), /alg "none" is not one of the protocol's .*WEBHOOK_ALGORITHM_NOT_ALLOWED/],
    ['crit', { ...GOOD_HEADER, crit: ['b64'], b64: false }, goodClaims(), /crit or b64/],
    ['jku', { ...GOOD_HEADER, jku: 'https://evil.test/jwks' }, goodClaims(), /the header has jku: ignored/],
    ['expired', GOOD_HEADER, goodClaims({ iat: now - 3600, exp: now - 3300 }), /expired 55m\d*s? ago/],
    ['future iat', GOOD_HEADER, goodClaims({ iat: now + 120, exp: now + 300 }), /issued in the future \(in (2m|1m\d+s)\): the sender's clock is ahead/],
    ['future nbf', GOOD_HEADER, goodClaims({ nbf: now + 60 }), /not valid before in (1m|\d+s)/],
    ['long lifetime', GOOD_HEADER, goodClaims({ iat: now, exp: now + 3600 }), /lives 1h, longer than the protocol's default 5m: .*WEBHOOK_TOKEN_LIFETIME_TOO_LONG/],
    ['exp before iat', GOOD_HEADER, goodClaims({ iat: now, exp: now - 1 }), /exp is before iat/],
    ['missing claims', GOOD_HEADER, { iss: 'https://sender.test', exp: now + 60 }, /missing aud, iat, jti, webhook_id: .*WEBHOOK_CLAIMS_INVALID/],
    ['no body digest', GOOD_HEADER, goodClaims({ body_sha256: undefined }), /no body_sha256: the body is not signed/]
  ]
  for (const [name, header, claims, warning] of cases) {
    const run = await runCli(['decode', token(header, claims)])
    t.equal(run.code, 0, `${name}: decoded`)
    t.match(run.stdout, /Warnings \(\d+\)/, `${name}: warned`)
    t.match(run.stdout, warning, name)
  }
})

t.test('a token a consumer would refuse on format still decodes, with the reason', async (t) => {
  // Padding is not canonical base64url: the consumer refuses it, a lenient decoder reads it.
  const padded = `${b64(GOOD_HEADER)}=.${b64(goodClaims())}.${SIGNATURE}`
  const run = await runCli(['decode', padded, '--json'])
  t.equal(run.code, 0)
  t.match(jsonOf(run).warnings, [/not in the strict form a consumer accepts .*WEBHOOK_TOKEN_MALFORMED/])
})

t.test('the token can come from standard input or as a pasted header', async (t) => {
  const compact = token(GOOD_HEADER, goodClaims())
  const piped = await runCli(['decode', '-', '--json'], { input: `Authorization: Bearer ${compact}\n` })
  t.equal(piped.code, 0)
  t.equal((jsonOf(piped).header as { kid: string }).kid, 'kid-1')
  const pasted = await runCli(['decode', `Bearer ${compact}`, '--json'])
  t.equal((jsonOf(pasted).claims as { webhook_id: string }).webhook_id, 'wh_1')
})

t.test('a malformed token is a clear error, exit code 3', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['abc.def', /three dot-separated segments; this has 2: is it complete\?/],
    ['a.b.c.d.e', /encrypted token \(JWE, five segments\)/],
    [`${b64('not json')}.${b64(goodClaims())}.${SIGNATURE}`, /the header segment of the token is not base64url-encoded JSON/],
    [`${b64(GOOD_HEADER)}.${b64('[1]')}.${SIGNATURE}`, /the claims segment of the token is JSON but not an object/]
  ]
  for (const [input, message] of cases) {
    const run = await runCli(['decode', input])
    t.equal(run.code, 3, input)
    t.equal(run.stdout, '')
    t.match(run.stderr, new RegExp(`^error: .*${message.source}`))
    const json = await runCli(['decode', input, '--json'])
    t.equal(json.code, 3)
    t.match(jsonOf(json), { error: { code: 'TOKEN_MALFORMED', message } })
  }
})

t.test('colours only on request of the environment, never with NO_COLOR or --no-color', async (t) => {
  const compact = token({ alg: 'ES256', typ: 'JWT', kid: 'k' }, goodClaims())
  const forced = await runCli(['decode', compact], { env: { FORCE_COLOR: '1' } })
  t.match(forced.stdout, `${ESC}1mHeader${ESC}22m`)
  t.match(forced.stdout, `${ESC}33m!${ESC}39m typ is "JWT"`)
  for (const [env, args] of [[{ FORCE_COLOR: '1', NO_COLOR: '1' }, []], [{ FORCE_COLOR: '1' }, ['--no-color']], [{ FORCE_COLOR: '0' }, []]] as const) {
    const plain = await runCli(['decode', compact, ...args], { env })
    t.notMatch(plain.stdout, ESC, JSON.stringify({ env, args }))
  }
  const failed = await runCli(['decode', 'x'], { env: { FORCE_COLOR: '1' } })
  t.ok(failed.stderr.startsWith(`${ESC}31merror${ESC}39m: `))
})

t.test('on a terminal, colours unless TERM is dumb', async (t) => {
  // built-command.test.ts checks the same on a real pseudo-terminal, with the built command.
  const compact = token({ alg: 'ES256', typ: 'JWT', kid: 'k' }, goodClaims())
  for (const [term, coloured] of [['xterm-256color', true], ['dumb', false]] as const) {
    const run = await runCli(['decode', compact], { isTTY: true, env: { TERM: term } })
    t.equal(run.code, 0, term)
    t.equal(run.stdout.includes(`${ESC}33m!`), coloured, `TERM=${term}`)
    t.match(run.stdout, 'typ is "JWT"')
  }
  const failed = await runCli(['decode', 'x'], { isTTY: true, env: { TERM: 'xterm-256color' } })
  t.ok(failed.stderr.startsWith(`${ESC}31merror${ESC}39m: `), 'errors in red on a terminal too')
})

t.test('help, version and usage errors', async (t) => {
  const help = await runCli(['decode', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: webhook-jwt decode \[options\] <token>[\s\S]*Example:\n {2}\$ webhook-jwt decode eyJ/)
  const top = await runCli(['--help'])
  t.equal(top.code, 0)
  t.match(top.stdout, /Commands:\n {2}decode/)
  const version = await runCli(['--version'])
  t.equal(version.code, 0)
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
  const unknown = await runCli(['decod', 'x'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command 'decod'\n\(Did you mean decode\?\)/)
  const missing = await runCli(['decode'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /missing required argument 'token'/)
  const none = await runCli([])
  t.equal(none.code, 2, 'no command is a usage error, with the help')
  t.match(none.stderr, /Usage: webhook-jwt/)
})
