import type { ExitCode } from './cli-error.ts'
import { decodeCommand } from './commands/decode.ts'
import { jwksCommand } from './commands/jwks.ts'
import { keysCommand } from './commands/keys.ts'
import { verifyCommand } from './commands/verify.ts'
import type { Terminal } from './output.ts'
import { runProgram } from './program.ts'

/**
 * The `webhook-jwt` command: runs `argv` (without `node` and the script) against `terminal` and resolves the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signals: process })
 */
export async function main (argv: readonly string[], terminal: Terminal): Promise<ExitCode> {
  return await runProgram(argv, terminal, [decodeCommand, jwksCommand, verifyCommand, keysCommand])
}
