import { EXIT, type ExitCode } from '../cli-error.ts'
import { decodeToken, type DecodedToken } from '../decoded-token.ts'
import type { Output } from '../output.ts'
import type { CommandContext } from '../program.ts'
import { readToken } from '../read-input.ts'
import { describeTime } from '../relative-time.ts'

const TIME_CLAIMS = new Set(['iat', 'exp', 'nbf'])

/** Prints members one per line, names aligned; NumericDate claims as absolute and relative times. */
function printMembers (output: Output, title: string, members: Record<string, unknown>, nowMs: number): void {
  output.line(output.paint('bold', title))
  const width = Math.max(0, ...Object.keys(members).map((name) => name.length))
  for (const [name, value] of Object.entries(members)) {
    const shown = TIME_CLAIMS.has(name) && typeof value === 'number' ? `${value}  ${describeTime(value * 1000, nowMs)}` : typeof value === 'string' ? value : JSON.stringify(value)
    output.line(`  ${name.padEnd(width)}  ${shown}`)
  }
}

function printWarnings (output: Output, warnings: readonly string[]): void {
  if (warnings.length === 0) return
  output.line(output.paint('warn', `Warnings (${warnings.length})`))
  for (const warning of warnings) output.line(`  ${output.paint('warn', '!')} ${warning}`)
}

function print (output: Output, decoded: DecodedToken, nowMs: number): void {
  printMembers(output, 'Header', decoded.header, nowMs)
  printMembers(output, 'Claims', decoded.claims, nowMs)
  output.line(`${output.paint('bold', 'Signature')}  ${decoded.signatureBytes} bytes, not checked here (webhook-jwt verify checks it)`)
  printWarnings(output, decoded.warnings)
}

/** `webhook-jwt decode <token | ->`: decodes the token and prints its header, claims and warnings. */
export async function decode ({ output, terminal }: CommandContext<unknown>, argument: string): Promise<ExitCode> {
  const nowMs = Date.now()
  const decoded = decodeToken(await readToken(argument, terminal.stdin), nowMs)
  output.result({ header: decoded.header, claims: decoded.claims, signatureBytes: decoded.signatureBytes, warnings: decoded.warnings })
  print(output, decoded, nowMs)
  return EXIT.ok
}
