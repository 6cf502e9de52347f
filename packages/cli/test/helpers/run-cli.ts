import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built command, as installed: `webhook-jwt` is this file with Node. */
export const CLI_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url))

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliRunOptions {
  /** Standard input's content; none (closed at once) by default. */
  input?: string
  /** Added to a clean environment: no NO_COLOR, FORCE_COLOR or TERM from the test runner. */
  env?: Record<string, string>
  cwd?: string
  /** Kills the command after this long: a hang fails the test instead of the run. */
  timeoutMs?: number
}

/** Runs `webhook-jwt …args` as a child process, as a user would, and resolves its exit code and output. */
export async function runCli (args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  return await runCommand(process.execPath, [CLI_BIN, ...args], options.env, options)
}

/** Runs any command with the test runner's environment, less its colour settings, plus `extraEnv`. */
export async function runCommand (file: string, args: readonly string[], extraEnv: Record<string, string> = {}, options: CliRunOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = {}
  // Coverage and tap's process tracking travel in the environment; colour settings must not leak in.
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !['NO_COLOR', 'FORCE_COLOR', 'TERM', 'CI'].includes(name)) env[name] = value
  }
  const child = spawn(file, args, { env: { ...env, ...extraEnv }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 30_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  child.stdin.end(options.input ?? '')
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode) => resolve(exitCode))
  })
  return { code, stdout, stderr }
}

/** The `--json` document a run printed. */
export function jsonOf (run: CliRun): Record<string, unknown> {
  return JSON.parse(run.stdout) as Record<string, unknown>
}
