import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import t from 'tap'

// What an npm user gets: the five packages packed as they would be published (`pnpm pack`, which applies
// publishConfig and replaces workspace: ranges), installed with npm into an empty project outside the
// workspace, and used there: the READMEs' samples type-checked as a user's strict project would check them,
// one delivery from the installed producer to the installed consumer, the installed `webhook-jwt` bin.
// `pnpm test` builds before tap runs, and this file packs that build.

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..')
const PACKAGES = ['protocol', 'producer', 'consumer', 'redis', 'cli'] as const
type PackageName = typeof PACKAGES[number]
const REPOSITORY = 'https://github.com/webhook-jwt/webhook-jwt'
const REPOSITORY_FILE = new RegExp(`^${REPOSITORY}/(?:blob|tree)/main/([^#?]+)`)
/**
 * The producer's delivery options for the one delivery: no retries, so that a failed attempt is the answer
 * at once, and loopback allowed explicitly, since the SSRF guard refuses it by default.
 */
const DELIVERY_OPTIONS = { retry: { schedule: [] }, allowedNetworks: ['127.0.0.0/8', '::1/128'] }
/** npm and tsc on a loaded machine; npm reaches the registry only when its cache lacks something. */
const INSTALL_TIMEOUT_MS = 90_000
const COMMAND_TIMEOUT_MS = 60_000

/** The environment of a user's shell: none of tap's loader and coverage hooks, none of pnpm's npm_config_*. */
const USER_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(NODE_OPTIONS|NODE_PATH|NODE_V8_COVERAGE|TAP|_TAPJS_|npm_|pnpm_)/i.test(name)))

const work = mkdtempSync(join(tmpdir(), 'webhook-jwt-packed-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const tarballs = join(work, 'tarballs')
const unpacked = join(work, 'unpacked')
const project = join(work, 'project')

interface Manifest {
  name: string
  version: string
  [field: string]: unknown
}

function filesUnder (folder: string): Set<string> {
  return new Set(readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name))))
}

/** Every path an exports map (or a bin map) can resolve to. */
function targets (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (value === null || typeof value !== 'object') return []
  return Object.values(value).flatMap(targets)
}

/** The destinations of a Markdown document's links and images, code blocks left out. */
function links (markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '')
  return [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] as string),
    ...[...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)/gm)].map((match) => match[1] as string),
    ...[...prose.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/g)].map((match) => match[1] as string)
  ]
}

/** A README's TypeScript and JavaScript samples: every ```ts and ```js block is meant to compile as it is. */
function samples (markdown: string): Array<{ extension: 'ts' | 'js', code: string }> {
  return [...markdown.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)].map((match) => ({ extension: match[1] as 'ts' | 'js', code: match[2] as string }))
}

async function npmInstall (specs: string[], flags: string[] = []): Promise<string> {
  const args = ['install', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error', ...flags, ...specs]
  const options = { cwd: project, env: USER_ENV, timeout: INSTALL_TIMEOUT_MS }
  const started = performance.now()
  let from = 'npm\'s cache only'
  try {
    // Offline first: with npm's cache warm, nothing leaves the machine (--prefer-offline would still ask
    // the registry about the @webhook-jwt names, which only the tarballs provide).
    await run('npm', [...args, '--offline'], options)
  } catch {
    // npm's cache lacks something (ENOTCACHED, or ERESOLVE for a package it knows nothing of).
    from = 'the registry for what npm\'s cache lacked'
    await run('npm', [...args, '--prefer-offline'], options)
  }
  return `${((performance.now() - started) / 1000).toFixed(1)} s, from ${from}`
}

const tarball: Partial<Record<PackageName, string>> = {}
const manifests: Partial<Record<PackageName, Manifest>> = {}

t.before(async () => {
  const started = performance.now()
  await run('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballs], { cwd: ROOT, env: USER_ENV, timeout: COMMAND_TIMEOUT_MS })
  for (const name of PACKAGES) {
    const file = readdirSync(tarballs).find((entry) => entry.startsWith(`webhook-jwt-${name}-`) && entry.endsWith('.tgz'))
    if (file === undefined) throw new Error(`pnpm pack made no tarball for @webhook-jwt/${name}: ${readdirSync(tarballs).join(', ')}`)
    tarball[name] = join(tarballs, file)
    mkdirSync(join(unpacked, name), { recursive: true })
    await run('tar', ['-xzf', tarball[name], '-C', join(unpacked, name)])
    manifests[name] = JSON.parse(readFileSync(join(unpacked, name, 'package', 'package.json'), 'utf8')) as Manifest
  }
  t.comment(`pnpm pack and tar: ${((performance.now() - started) / 1000).toFixed(1)} s`)
})

for (const name of PACKAGES) {
  t.test(`@webhook-jwt/${name}'s tarball: LICENSE, repository, and only what it ships is named`, async (t) => {
    const root = join(unpacked, name, 'package')
    const shipped = filesUnder(root)
    const manifest = manifests[name] as Manifest
    t.equal(manifest.name, `@webhook-jwt/${name}`)

    t.ok(shipped.has('LICENSE'), 'LICENSE is in the tarball')
    t.equal(readFileSync(join(root, 'LICENSE'), 'utf8'), readFileSync(join(ROOT, 'LICENSE'), 'utf8'), 'the root\'s MIT LICENSE')
    t.equal(manifest.license, 'MIT')
    t.same(manifest.repository, { type: 'git', url: `git+${REPOSITORY}.git`, directory: `packages/${name}` })
    t.equal(manifest.homepage, `${REPOSITORY}/tree/main/packages/${name}#readme`)
    t.same(manifest.bugs, { url: `${REPOSITORY}/issues` })

    const named = [...targets(manifest.exports), ...targets(manifest.bin)]
    t.ok(named.length > 0, 'an exports map')
    for (const target of named) t.ok(shipped.has(relative(root, resolve(root, target))), `${target} is shipped`)
    t.notMatch(JSON.stringify(manifest.exports), /@webhook-jwt\/source|\bsrc\//, 'no export condition for the sources, which are not shipped')
    t.notMatch(JSON.stringify(manifest), /"workspace:/, 'no workspace: range left')
    for (const target of targets(manifest.bin)) t.match(readFileSync(join(root, target), 'utf8'), /^#!\/usr\/bin\/env node\n/, `${target} starts with its shebang`)

    t.ok(shipped.has('README.md'), 'README.md is in the tarball')
    for (const link of links(readFileSync(join(root, 'README.md'), 'utf8'))) {
      if (link.startsWith('#')) continue
      const inRepository = REPOSITORY_FILE.exec(link)?.[1]
      if (inRepository !== undefined) {
        t.ok(existsSync(join(ROOT, decodeURIComponent(inRepository))), `${link} names a file of the repository`)
      } else if (!/^[a-z][a-z\d+.-]*:/i.test(link)) {
        const file = relative(root, resolve(root, decodeURIComponent(link.replace(/[#?].*$/, ''))))
        t.ok(shipped.has(file), `the relative link ${link} is to a file in the tarball`)
      }
    }
  })
}

t.test('installed with npm into an empty project, the packed packages work as a user uses them', async (t) => {
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'webhook-jwt-packed-check', private: true, type: 'module' }, null, 2))
  // The versions the workspace builds and tests with.
  const { devDependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }
  const tools = ['fastify', 'typescript', '@types/node'].map((name) => `${name}@${devDependencies[name] as string}`)
  const installed = (name: string): string => join(project, 'node_modules', name)

  t.test('producer, consumer and CLI install without ioredis, BullMQ or any install script', async (t) => {
    t.comment(`npm install: ${await npmInstall([...(['protocol', 'producer', 'consumer', 'cli'] as const).map((name) => tarball[name] as string), ...tools])}`)
    const lock = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string, hasInstallScript?: boolean }> }
    const tree = Object.entries(lock.packages)
    for (const name of ['protocol', 'producer', 'consumer', 'cli']) {
      t.match(lock.packages[`node_modules/@webhook-jwt/${name}`]?.resolved, /^file:.*\.tgz$/, `@webhook-jwt/${name} came from its tarball`)
    }
    t.same(tree.filter(([path]) => /(^|\/)node_modules\/(ioredis|bullmq|msgpackr-extract|@webhook-jwt\/redis)$/.test(path)).map(([path]) => path), [], 'no Redis packages')
    t.same(tree.filter(([, entry]) => entry.hasInstallScript === true).map(([path]) => path), [], 'no install scripts')
  })

  t.test('@webhook-jwt/redis installs beside them', async (t) => {
    // msgpackr-extract (through BullMQ) has an install script that only looks for the prebuilt binary it
    // gets as an optional dependency, and would compile one without it; the workspace skips it too.
    t.comment(`npm install: ${await npmInstall([tarball.redis as string], ['--ignore-scripts'])}`)
    t.ok(existsSync(installed('@webhook-jwt/redis/dist/index.js')))
  })

  let typeCheck: Promise<string | null> | undefined
  let typeCheckSeconds = 0
  let sampleFiles: string[] = []
  t.test('the READMEs\' samples, extracted; tsc starts on them', async (t) => {
    // From the READMEs the tarballs ship, and the repository's own README.
    const readmes = [
      ...PACKAGES.map((name) => ({ name, markdown: readFileSync(join(unpacked, name, 'package', 'README.md'), 'utf8') })),
      { name: 'repository', markdown: readFileSync(join(ROOT, 'README.md'), 'utf8') }
    ]
    mkdirSync(join(project, 'samples'))
    sampleFiles = readmes.flatMap(({ name, markdown }) => samples(markdown).map(({ extension, code }, index) => {
      const file = join('samples', `${name}-${index + 1}.${extension}`)
      writeFileSync(join(project, file), code)
      return file
    }))
    t.ok(sampleFiles.length > 0, `${sampleFiles.length} samples: ${sampleFiles.join(', ')}`)
    // A strict project with TypeScript's defaults otherwise: target and lib follow from nodenext (ESNext,
    // the DOM's fetch included), and the packages' declarations are checked with the rest (no skipLibCheck).
    // Only TypeScript's own lib files are not checked themselves (--skipDefaultLibCheck): that would take
    // a third of the check to prove nothing about these packages. It runs while the delivery and the bin are tried.
    const started = performance.now()
    typeCheck = run(process.execPath, [installed('typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--skipDefaultLibCheck', '--allowJs', '--checkJs', ...sampleFiles], { cwd: project, env: USER_ENV, timeout: COMMAND_TIMEOUT_MS })
      .then(() => null, (error: { stdout: string, stderr: string }) => `${error.stdout}${error.stderr}`)
      .finally(() => { typeCheckSeconds = (performance.now() - started) / 1000 })
  })

  t.test('one webhook, delivered by the installed producer, verified by the installed consumer', async (t) => {
    copyFileSync(join(ROOT, 'test', 'support', 'installed-delivery.js'), join(project, 'installed-delivery.js'))
    const { stdout } = await run(process.execPath, ['installed-delivery.js', JSON.stringify(DELIVERY_OPTIONS)], { cwd: project, env: USER_ENV, timeout: COMMAND_TIMEOUT_MS })
    const result = JSON.parse(stdout) as { id: string, activeKid: string, outcome: unknown, received: unknown, resolved: string[] }
    t.match(result.outcome, { id: result.id, outcome: 'delivered', attempts: 1, status: 200 })
    t.match(result.received, {
      webhook: { id: result.id, issuer: 'https://sender.test', kid: result.activeKid, claims: { aud: 'https://receiver.test/hooks', webhook_id: result.id } },
      body: { type: 'order.paid', order: 'o_1' }
    })
    t.same(result.resolved, ['producer', 'consumer'].map((name) => `file://${installed(`@webhook-jwt/${name}/dist/index.js`)}`), 'the installed builds')
  })

  t.test('the installed webhook-jwt bin runs', async (t) => {
    const { stdout } = await run(installed('.bin/webhook-jwt'), ['--version'], { cwd: project, env: USER_ENV, timeout: COMMAND_TIMEOUT_MS })
    t.equal(stdout, `${(manifests.cli as Manifest).version}\n`)
  })

  t.test('every ts/js sample of the READMEs type-checks under tsc --strict --module nodenext', async (t) => {
    t.equal(await typeCheck, null, `tsc reports no error in ${sampleFiles.length} samples`)
    t.comment(`tsc: ${typeCheckSeconds.toFixed(1)} s`)
  })

  t.test('without @webhook-jwt/producer, a consumer app imports @webhook-jwt/redis for its replay store', async (t) => {
    // Its two plugins are optional peers: a consumer-only app has no producer. Last, as it removes it.
    renameSync(installed('@webhook-jwt/producer'), join(work, 'producer-removed'))
    const script = `
      import { redisReplayStore } from '@webhook-jwt/redis'
      const store = redisReplayStore({ connection: 'redis://127.0.0.1:6379' })
      await store.close()
      const producer = await import('@webhook-jwt/producer').then(() => 'installed', (error) => error.code)
      console.log(JSON.stringify({ remember: typeof store.remember, producer }))
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env: USER_ENV, timeout: COMMAND_TIMEOUT_MS })
    t.same(JSON.parse(stdout), { remember: 'function', producer: 'ERR_MODULE_NOT_FOUND' })
  })
})
