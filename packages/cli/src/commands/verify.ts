import type { Command } from 'commander'
import type { VerifyOptions } from '../actions/verify.ts'
import { CLOCK_TOLERANCE, JWKS_TIMEOUT, MAX_TOKEN_AGE } from '../flag-defaults.ts'
import type { CommandDefinition } from '../program.ts'

/** The consumer option each flag sets, so a refused value is reported under the flag the operator typed. */
const FLAGS: Readonly<Record<string, string>> = {
  jwksUrl: '--jwks',
  issuer: '--issuer',
  audience: '--audience',
  algorithms: '--algorithms',
  clockTolerance: '--clock-tolerance',
  maxTokenAge: '--max-token-age',
  bodyDigest: '--body-digest',
  'jwks.timeout': '--timeout'
}

/** `webhook-jwt verify <token> --jwks <url> --issuer I --audience A [--body FILE]`: the consumer's checks, one by one. */
export const verifyCommand: CommandDefinition = (program: Command, run) => {
  program.command('verify')
    .summary('run the consumer\'s verification on a token and show each check')
    .description('Run @webhook-jwt/consumer\'s own checks on a token, with the options a consumer is configured with: format, header and claims, the key in the JWKS (fetched now), the signature and, with --body, the body digest. Every check that can run is shown with pass or fail and why; the answer is what the consumer would reply. Exit code 0 when it verifies, 1 when the consumer would refuse it (401), 3 when the key could not be fetched (503), 2 for a wrong command line. The replay check needs the receiver\'s own store and is not run.')
    .argument('<token>', 'the compact token, a pasted "Bearer <token>" header value, or - to read it from standard input')
    .requiredOption('--jwks <url>', 'the sender\'s JWKS URL, as the consumer is configured with it')
    .requiredOption('--issuer <iss>', 'the issuer the consumer accepts')
    .requiredOption('--audience <aud...>', 'the audience(s) the consumer accepts')
    .option('--body <file>', 'the exact request body, to check body_sha256 (- for standard input)')
    .option('--algorithms <list>', 'accepted algorithms, comma-separated', 'ES256')
    .option('--clock-tolerance <duration>', 'the consumer\'s clockTolerance', CLOCK_TOLERANCE)
    .option('--max-token-age <duration>', 'the consumer\'s maxTokenAge', MAX_TOKEN_AGE)
    .option('--body-digest <rule>', 'the consumer\'s bodyDigest: required or optional', 'required')
    .option('--timeout <duration>', 'deadline of the JWKS fetch', JWKS_TIMEOUT)
    .addHelpText('after', '\nExample:\n  $ webhook-jwt verify "$TOKEN" --jwks https://sender.example/.well-known/jwks.json \\\n      --issuer https://sender.example --audience https://receiver.example/hooks --body body.json')
    // The action's modules (the consumer's among them) load when it runs.
    .action(run<[string], VerifyOptions>(async (context, argument) => await (await import('../actions/verify.ts')).verify(context, argument), FLAGS))
}
