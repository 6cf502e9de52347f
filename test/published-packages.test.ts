import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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
    t.same(manifest.files, ['dist'])
    t.equal(Object.keys(manifest.exports['.'])[0], 'types')
    t.ok(existsSync(join(root, 'packages', name, 'dist', 'index.js')), 'dist/index.js')
    t.ok(existsSync(join(root, 'packages', name, 'dist', 'index.d.ts')), 'dist/index.d.ts')
  })
}

t.test('@webhook-jwt/cli installs the webhook-jwt command: the built bin, run by node', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', 'cli', 'package.json'), 'utf8'))
  t.same(manifest.bin, { 'webhook-jwt': './dist/bin.js' })
  t.match(readFileSync(join(root, 'packages', 'cli', 'dist', 'bin.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
  const { stdout } = await run(process.execPath, [join(root, 'packages', 'cli', 'dist', 'bin.js'), '--version'])
  t.equal(stdout, `${manifest.version}\n`)
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
