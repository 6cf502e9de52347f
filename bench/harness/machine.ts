import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, totalmem } from 'node:os'

/** Where the numbers come from: they are only comparable within one run on one machine. */
export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  openssl: string
  v8: string
  packages: Record<string, string>
  commit: string
}

/** The packages whose versions the results depend on, read from the root's node_modules. */
const PACKAGES = ['fastify', 'jose', '@fastify/jwt', 'get-jwks', 'fast-jwt', 'autocannon', 'tsx', '@webhook-jwt/consumer', '@webhook-jwt/producer', '@webhook-jwt/protocol']

function cpuModel (): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    return match?.[1]?.trim() ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function packageVersion (root: URL, name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, root), 'utf8')) as { version?: unknown }
    return typeof manifest.version === 'string' ? manifest.version : 'unknown'
  } catch {
    return 'not installed'
  }
}

function gitCommit (root: URL): string {
  try {
    const run = (args: string[]): string => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim()
    const dirty = run(['status', '--porcelain', '--', 'packages']) === '' ? '' : ' (packages/ modified)'
    return `${run(['rev-parse', '--short', 'HEAD'])}${dirty}`
  } catch {
    return 'unknown'
  }
}

export function machineInfo (root: URL): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    openssl: process.versions.openssl,
    v8: process.versions.v8,
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(root, name)])),
    commit: gitCommit(root)
  }
}

/** The 1, 5 and 15 minute load averages, rounded: other work on the machine skews every figure. */
export function loadAverage (): [number, number, number] {
  const [one, five, fifteen] = loadavg().map((value) => Math.round(value * 100) / 100)
  return [one ?? 0, five ?? 0, fifteen ?? 0]
}
