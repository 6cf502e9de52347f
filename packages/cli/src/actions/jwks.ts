import { parseDuration } from '@webhook-jwt/protocol'
import { EXIT, usageError, type ExitCode } from '../cli-error.ts'
import { inspectKeySet, type KeySetReport } from '../jwks/inspect-key-set.ts'
import { loadKeySet } from '../jwks/load-key-set.ts'
import { printKeySet, type KidLookup } from '../jwks/print-key-set.ts'
import type { CommandContext } from '../program.ts'

/** The flags of `jwks`. */
export interface JwksOptions {
  kid?: string
  timeout: string
}

function lookUp (kid: string, report: KeySetReport): KidLookup {
  const key = report.keys.find((row) => row.kid === kid)
  if (key === undefined) return { kid, present: false, usable: false }
  return { kid, present: true, index: key.index, usable: report.consumer.usableKids.includes(kid) }
}

/** `webhook-jwt jwks <url | file | ->`: loads the set, judges it, prints the report; yes when it has no problems (and holds `--kid`). */
export async function jwks ({ output, terminal, options }: CommandContext<JwksOptions>, argument: string): Promise<ExitCode> {
  const timeoutSeconds = parseDuration(options.timeout, '--timeout')
  if (timeoutSeconds === 0) throw usageError('"--timeout" must be more than 0')
  const nowMs = Date.now()
  const loaded = await loadKeySet(argument, { timeoutMs: timeoutSeconds * 1000, stdin: terminal.stdin })
  const report = await inspectKeySet(loaded)
  const lookup = options.kid === undefined ? null : lookUp(options.kid, report)
  output.result({ source: { ...loaded.source, bytes: loaded.bytes }, keys: report.keys, problems: report.problems, consumer: report.consumer, ...(lookup === null ? {} : { kid: lookup }) })
  printKeySet(output, loaded, report, lookup, nowMs)
  const yes = report.problems.length === 0 && (lookup?.present ?? true)
  return yes ? EXIT.ok : EXIT.no
}
