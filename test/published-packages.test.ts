import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

// The tests run on the sources (the @webhook-jwt/source export condition). This one runs what npm users
// get: dist/ through the exports map, with no condition and no TypeScript loader. `pnpm test` builds first.

const run = promisify(execFile)
const root = join(import.meta.dirname, '..')

for (const name of ['protocol', 'producer', 'consumer', 'redis', 'cli']) {
  t.test(`@webhook-jwt/${name} ships ESM with declarations, types first in its exports`, async (t) => {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'))
    t.same(manifest.files, ['dist', 'LICENSE'])
    t.equal(Object.keys(manifest.exports['.'])[0], 'types')
    t.equal(Object.keys(manifest.publishConfig.exports['.'])[0], 'types', 'types first in the published exports too')
    t.equal(readFileSync(join(root, 'packages', name, 'LICENSE'), 'utf8'), readFileSync(join(root, 'LICENSE'), 'utf8'), 'the root\'s LICENSE')
    t.ok(existsSync(join(root, 'packages', name, 'dist', 'index.js')), 'dist/index.js')
    t.ok(existsSync(join(root, 'packages', name, 'dist', 'index.d.ts')), 'dist/index.d.ts')
  })
}

t.test('@webhook-jwt/cli publishes the webhook-jwt command as the built bin, run by node', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', 'cli', 'package.json'), 'utf8'))
  t.same(manifest.publishConfig.bin, { 'webhook-jwt': './dist/bin.js' })
  t.match(readFileSync(join(root, 'packages', 'cli', 'dist', 'bin.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
  const { stdout } = await run(process.execPath, [join(root, 'packages', 'cli', 'dist', 'bin.js'), '--version'])
  t.equal(stdout, `${manifest.version}\n`)
})

t.test('in the workspace, the webhook-jwt that pnpm links (what `pnpm exec webhook-jwt` runs) is the build', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', 'cli', 'package.json'), 'utf8'))
  // A file that exists before the build, so that `pnpm install` links it; it runs dist/bin.js.
  t.same(manifest.bin, { 'webhook-jwt': './bin/webhook-jwt.js' })
  const { stdout } = await run(join(root, 'node_modules', '.bin', 'webhook-jwt'), ['--version'])
  t.equal(stdout, `${manifest.version}\n`)
})

t.test('the workspace\'s webhook-jwt without a build says to run `pnpm build`, and exits 3', async (t) => {
  const unbuilt = mkdtempSync(join(tmpdir(), 'webhook-jwt-unbuilt-'))
  t.teardown(() => rmSync(unbuilt, { recursive: true, force: true }))
  mkdirSync(join(unbuilt, 'bin'))
  writeFileSync(join(unbuilt, 'package.json'), '{ "type": "module" }\n')
  copyFileSync(join(root, 'packages', 'cli', 'bin', 'webhook-jwt.js'), join(unbuilt, 'bin', 'webhook-jwt.js'))
  const failed = await run(process.execPath, [join(unbuilt, 'bin', 'webhook-jwt.js'), '--version']).then(() => null, (error: { code: number, stdout: string, stderr: string }) => error)
  t.match(failed, { code: 3, stdout: '', stderr: /^error: webhook-jwt is not built .*: run `pnpm build` at the repository root\n$/ })
})

t.test('the built producer signs a token that the built protocol digest matches, loaded as users load it', async (t) => {
  const script = `
    import Fastify from 'fastify'
    import producer, { memoryKeyStore } from '@webhook-jwt/producer'
    const app = Fastify()
    await app.register(producer, { issuer: 'https://sender.test', keyStore: memoryKeyStore() })
    const signed = await app.webhooks.sign({ ok: true }, { audience: 'https://receiver.test' })
    const jwks = (await app.inject('/.well-known/jwks.json')).json()
    await app.close()
    console.log(JSON.stringify({ kid: signed.kid, published: jwks.keys.map((key) => key.kid), resolved: import.meta.resolve('@webhook-jwt/producer') }))
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: join(root, 'packages', 'producer') })
  const result = JSON.parse(stdout)
  t.same(result.published, [result.kid])
  t.match(result.resolved, /\/packages\/producer\/dist\/index\.js$/, 'resolved to the build, not the sources')
})
