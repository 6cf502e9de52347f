import type { Command } from 'commander'
import type { JwksOptions } from '../actions/jwks.ts'
import { JWKS_TIMEOUT } from '../flag-defaults.ts'
import type { CommandDefinition } from '../program.ts'

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
    .option('--timeout <duration>', 'how long to wait for the whole answer of a URL, such as 500ms or 10s', JWKS_TIMEOUT)
    .addHelpText('after', '\nExample:\n  $ webhook-jwt jwks https://sender.example/.well-known/jwks.json --kid 6Jq9Tz1x...\n  $ webhook-jwt jwks ./jwks.json --json | jq \'.problems[].message\'')
    // The action's modules (the consumer's among them) load when it runs.
    .action(run<[string], JwksOptions>(async (context, argument) => await (await import('../actions/jwks.ts')).jwks(context, argument)))
}
