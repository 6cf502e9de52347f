import type { Command } from 'commander'
import { JWKS_DEFAULTS } from '@webhook-jwt/consumer'
import { parseDuration } from '@webhook-jwt/protocol'
import { EXIT, usageError } from '../cli-error.ts'
import { inspectKeySet, type KeySetReport } from '../jwks/inspect-key-set.ts'
import { loadKeySet } from '../jwks/load-key-set.ts'
import { printKeySet, type KidLookup } from '../jwks/print-key-set.ts'
import type { CommandDefinition } from '../program.ts'

interface JwksOptions {
  kid?: string
  timeout: string
}

function lookUp (kid: string, report: KeySetReport): KidLookup {
  const key = report.keys.find((row) => row.kid === kid)
  if (key === undefined) return { kid, present: false, usable: false }
  return { kid, present: true, index: key.index, usable: report.consumer.usableKids.includes(kid) }
}

/**
 * `webhook-jwt jwks <url | file | ->`: a key set's keys, caching headers and problems, and whether a consumer
 * takes it; `--kid K` says whether K is in it.
 */
export const jwksCommand: CommandDefinition = (program: Command, run) => {
  program.command('jwks')
    .summary('list a key set\'s keys, caching and problems, and whether a consumer takes it')
    .description('Fetch a JWK Set from its URL (one GET, no redirects, as a consumer does) or read it from a file, and list each key (kid, kty, curve or RSA size, alg, use, whether its kid is its RFC 7638 thumbprint), the answer\'s Cache-Control, Age, Date and ETag, and its problems (private or symmetric keys, weak RSA, kids missing, repeated or not thumbprints, keys a consumer skips, too many keys). Ends with what @webhook-jwt/consumer with default options does with it. Exit code 0 when it has no problems (and holds --kid), 1 when it has problems or lacks --kid, 3 when it cannot be fetched, read or parsed.')
    .argument('<source>', 'an http:// or https:// URL, a file path, or - to read the set from standard input')
    .option('--kid <kid>', 'say whether this kid is in the set (exit code 1 when it is not)')
    .option('--timeout <duration>', 'how long to wait for the whole answer of a URL, such as 500ms or 10s', `${JWKS_DEFAULTS.timeout}s`)
    .addHelpText('after', '\nExample:\n  $ webhook-jwt jwks https://sender.example/.well-known/jwks.json --kid 6Jq9Tz1x...\n  $ webhook-jwt jwks ./jwks.json --json | jq \'.problems[].message\'')
    .action(run<[string], JwksOptions>(async ({ output, terminal, options }, argument) => {
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
    }))
}
