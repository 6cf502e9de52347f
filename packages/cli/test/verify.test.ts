import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { JWKS_DEFAULTS } from '@webhook-jwt/consumer'
import { DEFAULT_CLOCK_SKEW, DEFAULT_TOKEN_TTL } from '@webhook-jwt/protocol'
import { startJwksServer, type JwksServer } from '../../consumer/test/helpers/jwks-server.ts'
import { AUDIENCE, BODY, ISSUER, base64url, claimsFor, signRaw, testKey, tokenFor, type TestKey } from '../../consumer/test/helpers/token-factory.ts'
import { jsonOf, runCli, type CliRun } from './helpers/run-cli.ts'

interface JsonCheck { name: string, outcome: string, code?: string, detail: string }

const ESC = '\u001b['

async function bodyFile (t: { teardown: (fn: () => unknown) => void }, content: string = BODY): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'webhook-jwt-cli-'))
  t.teardown(async () => await rm(folder, { recursive: true, force: true }))
  const path = join(folder, 'body.json')
  await writeFile(path, content)
  return path
}

function verifyArgs (server: JwksServer, token: string, ...extra: string[]): string[] {
  return ['verify', token, '--jwks', server.url.href, '--issuer', ISSUER, '--audience', AUDIENCE, ...extra]
}

function checkOf (run: CliRun, name: string): JsonCheck {
  return (jsonOf(run).checks as JsonCheck[]).find((check) => check.name === name) as JsonCheck
}

let key: TestKey
let edKey: TestKey
t.before(async () => {
  key = await testKey()
  edKey = await testKey('EdDSA')
})

t.test('a good token and its body verify: every check passes, the answer is 200, exit code 0', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const run = await runCli(verifyArgs(server, tokenFor(key), '--body', await bodyFile(t)))
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, `Verifying as a consumer for issuer ${ISSUER}, audience ${AUDIENCE}, keys from ${server.url.href}\n`)
  for (const name of ['format', 'type', 'critical', 'algorithm', 'kid', 'issuer', 'audience', 'times', 'expiry', 'not-before', 'lifetime', 'ids', 'body-digest-claim', 'key', 'signature', 'body-digest']) {
    t.match(run.stdout, new RegExp(`\\n {2}✓ ${name} +\\S`), name)
  }
  t.match(run.stdout, `✓ key                kid ${key.kid} is in the key set at ${server.url.href}`)
  t.match(run.stdout, `✓ signature          ES256 signature verifies with key ${key.kid}`)
  t.match(run.stdout, '✓ body-digest        the body\'s SHA-256 matches body_sha256')
  t.match(run.stdout, /- replay +skipped: it needs the receiver's replay store/)
  t.match(run.stdout, /\nAnswer {2}200 verified: the consumer accepts it \(once: a second delivery of the same token is refused as WEBHOOK_REPLAYED\)\n$/)
  t.notMatch(run.stdout, ESC)
  t.equal(server.fetches, 1, 'one fetch of the key set')
})

t.test('--json: every check with its outcome, code and detail, and the answer', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const now = Math.floor(Date.now() / 1000)
  const run = await runCli(verifyArgs(server, tokenFor(key, { claims: { aud: 'https://elsewhere.test', iat: now - 400, exp: now - 100 } }), '--json'))
  t.equal(run.code, 1)
  const json = jsonOf(run)
  t.match(json, {
    answer: { status: 401, code: 'WEBHOOK_AUDIENCE_INVALID', retryAfter: null, title: 'The token is not addressed to this receiver', senderAction: 'never' },
    header: { alg: 'ES256', kid: key.kid, typ: 'webhook+jwt' },
    claims: { iss: ISSUER, aud: 'https://elsewhere.test' },
    keySet: { issuer: ISSUER, jwksUrl: server.url.href, kids: [key.kid], fresh: true }
  })
  t.same((json.checks as JsonCheck[]).map((check) => [check.name, check.outcome, check.code ?? null]), [
    ['format', 'passed', null], ['type', 'passed', null], ['critical', 'passed', null], ['algorithm', 'passed', null], ['kid', 'passed', null],
    ['issuer', 'passed', null], ['audience', 'failed', 'WEBHOOK_AUDIENCE_INVALID'], ['times', 'passed', null], ['expiry', 'failed', 'WEBHOOK_TOKEN_EXPIRED'],
    ['not-before', 'passed', null], ['lifetime', 'passed', null], ['ids', 'passed', null], ['body-digest-claim', 'passed', null],
    ['key', 'passed', null], ['signature', 'passed', null], ['body-digest', 'skipped', null], ['replay', 'skipped', null]
  ])
  t.match(checkOf(run, 'audience').detail, `aud https://elsewhere.test is not ${AUDIENCE}`)
  t.match(checkOf(run, 'expiry').detail, /^expired 1m\d+s ago, beyond the clock tolerance 30s$/)
  t.match(checkOf(run, 'body-digest').detail, 'skipped: no body was given to compare with body_sha256')
})

t.test('each failing check says why, in terms of the token and the flags', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk, edKey.publicJwk] })
  const now = Math.floor(Date.now() / 1000)
  const body = await bodyFile(t)
  const cases: Array<[string, string, string, RegExp | string, string[]?]> = [
    ['typ', tokenFor(key, { header: { typ: 'JWT' } }), 'type', 'typ JWT, expected webhook+jwt'],
    ['crit', tokenFor(key, { header: { crit: ['exp'] } }), 'critical', 'the header has crit or b64: no JWS extension is understood'],
    ['alg', tokenFor(edKey), 'algorithm', 'alg EdDSA is not among the allowed ES256'],
    ['kid', tokenFor(key, { header: { kid: undefined } }), 'kid', 'kid missing: a non-empty string of at most 256 characters is required'],
    ['iss', tokenFor(key, { claims: { iss: 'https://evil.test' } }), 'issuer', `iss https://evil.test is not the configured issuer ${ISSUER}`],
    ['times', tokenFor(key, { claims: { exp: 'soon' } }), 'times', /^iat \d+, exp soon: numbers are required, exp not before iat$/],
    ['nbf', tokenFor(key, { claims: { nbf: 'later' } }), 'times', /^iat \d+, exp \d+, nbf later: numbers are required/],
    ['future', tokenFor(key, { claims: { iat: now + 100, exp: now + 200 } }), 'not-before', /^issued in (1m\d+s|\d+s), beyond the clock tolerance 30s: the sender's clock is ahead$/],
    ['nbf future', tokenFor(key, { claims: { nbf: now + 600 } }), 'not-before', /^issued in (9m\d+s|10m), beyond/],
    ['lifetime', tokenFor(key, { claims: { iat: now, exp: now + 600 } }), 'lifetime', 'lives 10m, longer than --max-token-age 5m'],
    ['ids', tokenFor(key, { claims: { jti: '' } }), 'ids', 'jti "", webhook_id wh_1: non-empty strings of at most 256 characters are required'],
    ['no digest', tokenFor(key, { claims: { body_sha256: undefined } }), 'body-digest-claim', 'no body_sha256, and --body-digest is required'],
    ['bad digest', tokenFor(key, { claims: { body_sha256: 'abc' } }), 'body-digest-claim', 'body_sha256 abc is not a SHA-256 in base64url (43 characters)'],
    ['unknown kid', tokenFor(await testKey()), 'key', `the key set lists only ${key.kid}, ${edKey.kid} (JWKS ${server.url.href}): the key was revoked or retired, or is not this sender's`],
    ['forged', `${tokenFor(key).split('.').slice(0, 2).join('.')}.${base64url(Buffer.alloc(64, 7))}`, 'signature', `does not verify with key ${key.kid}: the token was altered, or signed by another key`],
    ['wrong key type', signRaw(key, JSON.stringify({ alg: 'ES256', kid: edKey.kid, typ: 'webhook+jwt' }), JSON.stringify(claimsFor())), 'signature', 'the key is for EdDSA, not ES256'],
    ['altered body', tokenFor(key, { body: '{"other":1}' }), 'body-digest', /^the body's SHA-256 is \S{43}, the token says \S{43}: the body was altered, or is not the one signed$/],
    ['format', 'e30.e30.!', 'format', 'not a compact JWS in canonical base64url with JSON objects (webhook-jwt decode shows what is there)']
  ]
  for (const [name, token, check, detail, extra = []] of cases) {
    const run = await runCli([...verifyArgs(server, token, '--body', body, '--json'), ...extra])
    t.equal(run.code, 1, `${name}: exit code 1`)
    t.match(checkOf(run, check), { outcome: 'failed', detail }, name)
  }
})

t.test('what passes is described too, with the flags that loosen the rules', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk, edKey.publicJwk] })
  const now = Math.floor(Date.now() / 1000)
  const token = tokenFor(edKey, { claims: { body_sha256: undefined, iat: now - 5, exp: now + 1195 } })
  const run = await runCli(verifyArgs(server, token, '--algorithms', 'ES256, EdDSA', '--body-digest', 'optional', '--max-token-age', '20m', '--clock-tolerance', '1m', '--json'))
  t.equal(run.code, 0, run.stdout)
  t.match(checkOf(run, 'algorithm').detail, 'alg EdDSA')
  t.match(checkOf(run, 'lifetime').detail, 'lives 20m, at most 20m')
  t.match(checkOf(run, 'expiry').detail, /^expires in 19m\d+s$/)
  t.match(checkOf(run, 'times').detail, /^iat \S+Z \(\d+s ago\), exp \S+Z \(in 19m\d+s\)$/)
  t.match(checkOf(run, 'not-before').detail, 'not issued in the future')
  t.match(checkOf(run, 'ids').detail, 'jti ')
  t.match(checkOf(run, 'body-digest-claim').detail, 'no body_sha256 (allowed by --body-digest optional)')
  t.match(checkOf(run, 'body-digest').detail, 'skipped: the token carries no body_sha256')
  t.match(jsonOf(run).answer, { status: 200, code: null })
})

t.test('the answer tells the sender what to do: final, retry after rotating, or wait', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const now = Math.floor(Date.now() / 1000)
  const unknown = await runCli(verifyArgs(server, tokenFor(await testKey(), { claims: { iat: now - 60, exp: now + 200 } })))
  t.equal(unknown.code, 1)
  t.match(unknown.stdout, /\nAnswer {2}401 WEBHOOK_KEY_UNKNOWN \(The signing key is not in the sender's published key set\): a sender that has just rotated retries, re-signed; otherwise the key is not the sender's or was revoked\n$/)
  const expired = await runCli(verifyArgs(server, tokenFor(key, { claims: { iat: now - 400, exp: now - 100 } })))
  t.match(expired.stdout, /\nAnswer {2}401 WEBHOOK_TOKEN_EXPIRED \(The token has expired\): the sender should not retry this token: a 401 is final\n$/)
  t.match(expired.stdout, /\n {2}✗ expiry +expired 1m\d+s ago, beyond the clock tolerance 30s → WEBHOOK_TOKEN_EXPIRED\n/)
})

t.test('an unreachable JWKS: the key check fails with why, the answer is 503, exit code 3', async (t) => {
  const server = await startJwksServer(t)
  server.handler = (request) => { request.socket.destroy() }
  const run = await runCli(verifyArgs(server, tokenFor(key)))
  t.equal(run.code, 3)
  t.match(run.stdout, /✗ key +the key set endpoint cannot be reached \(\w+\) \(JWKS http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json\) → WEBHOOK_KEY_UNAVAILABLE\n/)
  t.match(run.stdout, /- signature +skipped: there is no key to check it with/)
  t.match(run.stdout, /Answer {2}503 WEBHOOK_KEY_UNAVAILABLE \(The signing key cannot be obtained right now\): the sender should retry after 1s \(Retry-After\)\n$/)

  const silent = await startJwksServer(t)
  silent.handler = () => {}
  const started = Date.now()
  const slow = await runCli([...verifyArgs(silent, tokenFor(key)), '--timeout', '500ms', '--json'])
  t.equal(slow.code, 3)
  t.match(checkOf(slow, 'key').detail, 'the key set endpoint did not answer in full within 500 ms')
  t.ok(Date.now() - started < 10_000, 'the fetch deadline holds')
})

t.test('the token and the body can come from standard input', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const token = tokenFor(key)
  const fromStdin = await runCli(verifyArgs(server, '-', '--json'), { input: `Bearer ${token}\n` })
  t.equal(fromStdin.code, 0)
  const body = await runCli(verifyArgs(server, token, '--body', '-', '--json'), { input: '{"tampered":true}' })
  t.equal(body.code, 1)
  t.match(jsonOf(body).answer, { code: 'WEBHOOK_BODY_DIGEST_MISMATCH' })
})

t.test('a wrong command line is refused under the flag\'s name, exit code 2; an unreadable body file, exit code 3', async (t) => {
  const token = tokenFor(key)
  const base = ['verify', token, '--issuer', ISSUER, '--audience', AUDIENCE]
  const cases: Array<[string[], RegExp]> = [
    [[...base, '--jwks', 'ftp://sender.test/jwks'], /^error: --jwks must be an http\(s\) URL \(got "ftp:\/\/sender.test\/jwks"\)/],
    [[...base, '--jwks', 'http://127.0.0.1:9/', '--clock-tolerance', 'soon'], /^error: --clock-tolerance must be a duration/],
    [[...base, '--jwks', 'http://127.0.0.1:9/', '--max-token-age', '-1'], /^error: --max-token-age must be a duration/],
    [[...base, '--jwks', 'http://127.0.0.1:9/', '--algorithms', 'HS256'], /^error: --algorithms must be a non-empty list of ES256/],
    [[...base, '--jwks', 'http://127.0.0.1:9/', '--body-digest', 'sometimes'], /^error: --body-digest must be 'required' or 'optional'/],
    [[...base, '--jwks', 'http://127.0.0.1:9/', '--timeout', '0'], /^error: --timeout must be more than 0/],
    [['verify', token, '--jwks', 'http://127.0.0.1:9/', '--audience', AUDIENCE], /required option '--issuer <iss>' not specified/]
  ]
  for (const [args, message] of cases) {
    const run = await runCli(args)
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, message)
  }
  const missing = await runCli([...base, '--jwks', 'http://127.0.0.1:9/', '--body', '/nonexistent/body.json', '--json'])
  t.equal(missing.code, 3)
  t.match(jsonOf(missing), { error: { code: 'FILE_UNREADABLE', message: 'cannot read the body file /nonexistent/body.json: ENOENT' } })
})

t.test('colours on a terminal: passes green, failures red', async (t) => {
  const server = await startJwksServer(t, { keys: [key.publicJwk] })
  const run = await runCli(verifyArgs(server, tokenFor(key, { claims: { aud: 'https://elsewhere.test' } })), { env: { FORCE_COLOR: '1' } })
  t.match(run.stdout, `${ESC}32m✓${ESC}39m format`)
  t.match(run.stdout, `${ESC}31m✗${ESC}39m audience`)
  t.match(run.stdout, `${ESC}2m-${ESC}22m replay`)
  t.match(run.stdout, `${ESC}31m401 WEBHOOK_AUDIENCE_INVALID${ESC}39m`)
  const ok = await runCli(verifyArgs(server, tokenFor(key)), { env: { FORCE_COLOR: '1' } })
  t.match(ok.stdout, `${ESC}32m200 verified${ESC}39m`)
})

t.test('--help shows each flag with the consumer\'s own default', async (t) => {
  const help = await runCli(['verify', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: webhook-jwt verify \[options\] <token>/)
  t.match(help.stdout, new RegExp(`--clock-tolerance <duration> +the consumer's clockTolerance \\(default: "${DEFAULT_CLOCK_SKEW}s"\\)`))
  t.match(help.stdout, new RegExp(`--max-token-age <duration> +the consumer's maxTokenAge \\(default: "${DEFAULT_TOKEN_TTL}s"\\)`))
  t.match(help.stdout, new RegExp(`--timeout <duration> +deadline of the JWKS fetch \\(default: "${JWKS_DEFAULTS.timeout}s"\\)`))
  t.match(help.stdout, /Example:\n {2}\$ webhook-jwt verify "\$TOKEN" --jwks https:/)
})
