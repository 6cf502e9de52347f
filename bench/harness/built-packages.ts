import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The packages the contenders import, and the command the cli section starts, which run from their built dist/. */
const PACKAGES = ['protocol', 'consumer', 'producer', 'cli']

function newestMtime (folder: string): number {
  let newest = 0
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs)
  }
  return newest
}

function isStale (root: string, name: string): boolean {
  try {
    return statSync(`${root}/packages/${name}/dist/index.js`).mtimeMs < newestMtime(`${root}/packages/${name}/src`)
  } catch {
    return true
  }
}

/**
 * The contenders run the packages from dist/, as users do: build them first when a dist/ is missing or
 * older than its sources, so that the bench never measures stale code.
 */
export function ensureBuiltPackages (rootUrl: URL, log: (line: string) => void): void {
  const root = fileURLToPath(rootUrl)
  const stale = PACKAGES.filter((name) => isStale(root, name))
  if (stale.length === 0) return
  log(`building the packages (dist/ missing or older than src/ in ${stale.join(', ')}): pnpm build`)
  const build = spawnSync('pnpm', ['build'], { cwd: root, stdio: 'inherit' })
  if (build.status !== 0) throw new Error(`pnpm build failed (${build.status ?? build.signal})`)
  const still = PACKAGES.filter((name) => isStale(root, name))
  if (still.length > 0) throw new Error(`dist/ is still older than src/ after pnpm build in ${still.join(', ')}`)
}
