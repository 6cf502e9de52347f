import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { closedPort } from './helpers/jwks-server.ts'
import { CLI_BIN, runBuiltCli, runCommand } from './helpers/run-cli.ts'

// The built command, run as a user runs it: a child process of dist/bin.js. The other tests run the command in
// their own process, through its entry; these check what only a process shows: the shebang, the exit code, a
// real pseudo-terminal, a real Ctrl-C, and which modules each command loads.

const ESC = '\u001b['
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
const nowSec = Math.floor(Date.now() / 1000)
const TOKEN = `${b64({ alg: 'ES256', typ: 'JWT', kid: 'k' })}.${b64({ iss: 'https://sender.test', aud: 'https://receiver.test', iat: nowSec - 10, exp: nowSec + 290, jti: 'j1', webhook_id: 'wh_1', body_sha256: 'x'.repeat(43) })}.${Buffer.alloc(64, 1).toString('base64url')}`
/** The same, of the type the protocol says: it gets as far as the key. */
const WEBHOOK_TOKEN = TOKEN.replace(/^[^.]+/, b64({ alg: 'ES256', typ: 'webhook+jwt', kid: 'k' }))
const MODULE_LOG = fileURLToPath(new URL('./helpers/module-log.mjs', import.meta.url))

t.test('the bin is a node script, and runs: --version', async (t) => {
  t.match(readFileSync(CLI_BIN, 'utf8'), /^#!\/usr\/bin\/env node\n/)
  const version = await runBuiltCli(['--version'])
  t.equal(version.code, 0)
  t.equal(version.stdout, `${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`)
})

t.test('on a real terminal, colours unless TERM is dumb', async (t) => {
  // script(1) runs the command on a pseudo-terminal, as an operator's shell does.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_BIN)} decode ${TOKEN}`
  for (const [term, coloured] of [['xterm-256color', true], ['dumb', false]] as const) {
    const run = await runCommand('script', ['-qec', command, '/dev/null'], { TERM: term })
    t.equal(run.code, 0, term)
    t.equal(run.stdout.includes(`${ESC}33m!`), coloured, `TERM=${term}`)
    t.match(run.stdout, 'typ is "JWT"')
  }
})

t.test('Ctrl-C (a real SIGINT) stops following a rotation, exit code 3', async (t) => {
  const store = join(t.testdir(), 'keys.json')
  t.equal((await runBuiltCli(['keys', 'generate', '--store', store])).code, 0)
  const child = spawn(process.execPath, [CLI_BIN, 'keys', 'rotate', '--store', store, '--jwks-max-age', '1', '--clock-skew', '0', '--token-ttl', '1', '--retire-after', '2h'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const deadline = Date.now() + 20_000
  while (!stdout.includes('active → retiring') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  child.kill('SIGINT')
  t.equal(await exited, 3)
  t.match(stderr, 'error: stopped following the rotation; the producers complete it on their schedule (webhook-jwt keys status shows where it is)')
})

/** A run of the built command under module-log.mjs: its exit code, and the packages it loaded, by name. */
async function runLogged (log: string, args: readonly string[]): Promise<{ code: number | null, packages: Set<string> }> {
  writeFileSync(log, '')
  const run = await runCommand(process.execPath, ['--import', MODULE_LOG, CLI_BIN, ...args], { WEBHOOK_JWT_MODULE_LOG: log })
  // Each module's package: the last node_modules/<name>/ of its path, or the workspace's packages/<name>/.
  const packages = readFileSync(log, 'utf8').split('\n').flatMap((path) => {
    const installed = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(path)?.[1]
    const workspace = /\/packages\/([^/]+)\/(?:dist|src)\//.exec(path)?.[1]
    return [...(installed === undefined ? [] : [installed]), ...(workspace === undefined ? [] : [`@webhook-jwt/${workspace}`])]
  })
  return { code: run.code, packages: new Set(packages) }
}

t.test('each command loads only what it needs, and exits with its code: 0 yes, 1 no, 2 usage, 3 could not find out', async (t) => {
  const folder = t.testdir()
  const keySet = join(folder, 'jwks.json')
  // RFC 8037's Ed25519 key, its thumbprint as kid: a set without problems.
  writeFileSync(keySet, JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k' }] }))
  const emptyStore = join(folder, 'keys.json')
  const closed = `http://127.0.0.1:${await closedPort()}/jwks.json`
  const redis = `redis://127.0.0.1:${await closedPort()}`
  const plain = ['fastify', 'ioredis', 'bullmq', '@webhook-jwt/producer']
  const cases: Array<{ args: string[], code: number, never: string[], always: string[] }> = [
    { args: ['--version'], code: 0, never: [...plain, '@webhook-jwt/consumer', '@webhook-jwt/protocol'], always: ['commander'] },
    { args: ['--help'], code: 0, never: [...plain, '@webhook-jwt/consumer'], always: ['commander'] },
    { args: ['decod'], code: 2, never: [...plain, '@webhook-jwt/consumer'], always: ['commander'] },
    { args: ['decode', TOKEN], code: 0, never: [...plain, 'fastify-plugin', 'jose'], always: ['@webhook-jwt/consumer'] },
    { args: ['jwks', keySet], code: 0, never: [...plain, '@webhook-jwt/redis'], always: ['@webhook-jwt/consumer', 'jose'] },
    { args: ['verify', WEBHOOK_TOKEN, '--jwks', closed, '--issuer', 'https://sender.test', '--audience', 'https://receiver.test'], code: 3, never: [...plain, '@webhook-jwt/redis'], always: ['@webhook-jwt/consumer'] },
    { args: ['keys', 'status', '--store', emptyStore], code: 1, never: ['fastify', 'ioredis', 'bullmq', '@webhook-jwt/redis'], always: ['@webhook-jwt/producer'] },
    { args: ['keys', 'rollback', '--store', emptyStore], code: 1, never: ['ioredis', 'bullmq', '@webhook-jwt/redis'], always: ['fastify'] },
    // What the others must not load, this one does: the log sees Redis's packages when they load.
    { args: ['keys', 'status', '--store', redis, '--timeout', '1s'], code: 3, never: [], always: ['@webhook-jwt/redis', 'ioredis', 'bullmq'] }
  ]
  const runs = await Promise.all(cases.map(async ({ args }, i) => await runLogged(join(folder, `run-${i}.log`), args)))
  for (const [i, { args, code, never, always }] of cases.entries()) {
    const { code: exitCode, packages } = runs[i] as { code: number | null, packages: Set<string> }
    const command = `webhook-jwt ${args.slice(0, 2).join(' ').replace(TOKEN, '<token>').replace(WEBHOOK_TOKEN, '<token>')}`
    t.equal(exitCode, code, `${command}: exit code ${code}`)
    t.same(never.filter((name) => packages.has(name)), [], `${command} loads none of ${never.join(', ')}`)
    t.same(always.filter((name) => !packages.has(name)), [], `${command} loads ${always.join(', ')}`)
  }
})
