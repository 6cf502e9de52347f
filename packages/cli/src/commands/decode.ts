import type { Command } from 'commander'
import type { CommandDefinition } from '../program.ts'

/** `webhook-jwt decode <token | ->`: header and claims, times absolute and relative, and warnings. */
export const decodeCommand: CommandDefinition = (program: Command, run) => {
  program.command('decode')
    .summary('show a token\'s header and claims, with its times and what looks wrong')
    .description('Show a webhook token\'s header and claims without verifying it: times as absolute UTC and relative to now, and warnings (no kid, unexpected typ, expired, issued in the future, lifetime longer than the protocol\'s default, missing claims). Exit code 0 once decoded, 3 when it cannot be decoded.')
    .argument('<token>', 'the compact token, a pasted "Bearer <token>" header value, or - to read it from standard input')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt decode eyJhbGciOiJFUzI1NiIsImtpZCI6Ij...\n  $ pbpaste | webhook-jwt decode - --json | jq .header.kid')
    // The action's modules load when it runs, so that --help and the other commands never load them.
    .action(run(async (context, argument: string) => await (await import('../actions/decode.ts')).decode(context, argument)))
}
