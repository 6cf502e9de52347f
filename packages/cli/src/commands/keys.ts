import type { Command } from 'commander'
import type { StatusOptions, StepOptions } from '../actions/keys.ts'
import { KEY_FLAGS } from '../key-flags.ts'
import type { ActionRunner, CommandDefinition } from '../program.ts'

// Each action's modules (the producer's, and a store's) load when it runs.
const actions = async (): Promise<typeof import('../actions/keys.ts')> => await import('../actions/keys.ts')

function storeOptions (command: Command): Command {
  return command
    .requiredOption('--store <path | redis-url>', 'the producers\' key store: a key file path, or redis://host:port[/db]')
    .option('--prefix <prefix>', 'Redis store: the key prefix the producers use (default webhook-jwt:{signing-keys}:)')
    .option('--max-staleness <duration>', 'Redis store: the producers\' maxStaleness (default 30s)')
    .option('--timeout <duration>', 'Redis store: deadline of each command', '5s')
}

function rotationOptions (command: Command): Command {
  return storeOptions(command)
    .option('--key-encryption-key-file <path>', 'file holding the key-encryption key (or set WEBHOOK_JWT_KEY_ENCRYPTION_KEY); required for a Redis store')
    .option('--algorithm <alg>', 'algorithm of keys generated: ES256, EdDSA, ES384, RS256, PS256 (default ES256)')
    .option('--rsa-bits <bits>', 'RSA modulus length of keys generated (default 2048)')
    .option('--token-ttl <duration>', 'the producers\' tokenTtl (default 5m)')
    .option('--clock-skew <duration>', 'the producers\' clockSkew (default 30s)')
    .option('--jwks-max-age <duration>', 'the producers\' jwks.maxAge (default 10m)')
    .option('--publish-lead <duration>', 'the producers\' rotation.publishLead (default jwks max-age + clock skew [+ max staleness])')
    .option('--retire-after <duration>', 'the producers\' rotation.retireAfter (default token TTL + clock skew [+ max staleness])')
}

function statusCommand (keys: Command, run: ActionRunner): void {
  storeOptions(keys.command('status'))
    .description('Show the keys of a producer key store as a timeline: one lane per kid (next, active, retiring, retired) with the times of each step, done and scheduled. Reads the store only; no key-encryption key is needed.')
    .option('--svg <file>', 'also write the timeline as an SVG picture, the same as the rotation demo\'s')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys status --store /var/lib/sender/webhook-keys.json --svg keys.svg\n  $ webhook-jwt keys status --store redis://127.0.0.1:6379 --json')
    .action(run<[], StatusOptions>(async (context) => await (await actions()).status(context), KEY_FLAGS))
}

function rotateCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('rotate'))
    .description('Rotate the signing key as the producers do: publish a new key now, switch signing to it after --publish-lead, retire the old key after --retire-after. By default the command stays and follows the rotation to its end, applying the steps that fall due like a producer replica (with the running producers, whichever comes first applies each step once). With --no-wait it returns once the new key is published; the producers apply the rest on their schedule. The rotation flags must match the producers\' settings.')
    .option('--no-wait', 'return once the new key is published, leaving the switch and the retirement to the producers')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys rotate --store /var/lib/sender/webhook-keys.json --jwks-max-age 10m --token-ttl 5m\n  $ WEBHOOK_JWT_KEY_ENCRYPTION_KEY=… webhook-jwt keys rotate --store redis://127.0.0.1:6379 --no-wait')
    .action(run<[], StepOptions>(async (context) => await (await actions()).rotate(context), KEY_FLAGS))
}

function rollbackCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('rollback'))
    .description('Undo the latest rotation while the previous key is still published: before the switch, the new key is withdrawn at once; after it, the previous key signs again and the newer one retires after --retire-after.')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys rollback --store /var/lib/sender/webhook-keys.json')
    .action(run<[], StepOptions>(async (context) => await (await actions()).rollback(context), KEY_FLAGS))
}

function revokeCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('revoke'))
    .description('Unpublish a compromised key at once. Tokens it signed stop verifying as soon as receivers refresh their key set: that is the point. Revoking the signing key hands signing to the key receivers already trust if there is one, else to a new key. Asks for --yes.')
    .argument('<kid>', 'the kid to revoke (webhook-jwt keys status lists them)')
    .option('--yes', 'revoke: tokens signed by this key in flight will be refused')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys revoke 3Dn1fDbN… --store /var/lib/sender/webhook-keys.json --yes')
    .action(run<[string], StepOptions>(async (context, kid) => await (await actions()).revoke(context, kid), KEY_FLAGS))
}

function generateCommand (keys: Command, run: ActionRunner): void {
  rotationOptions(keys.command('generate'))
    .description('Create the first signing key in an empty key store, as a producer does when it first starts: it signs at once. For a store that already holds keys, use rotate.')
    .addHelpText('after', '\nExample:\n  $ webhook-jwt keys generate --store /var/lib/sender/webhook-keys.json --algorithm EdDSA')
    .action(run<[], StepOptions>(async (context) => await (await actions()).generate(context), KEY_FLAGS))
}

/** `webhook-jwt keys <status | rotate | rollback | revoke KID | generate> --store <file | redis URL>`. */
export const keysCommand: CommandDefinition = (program, run) => {
  const keys = program.command('keys')
    .summary('operate a producer key store: status, rotate, rollback, revoke, generate')
    .description('Operate the key store of webhook-jwt producers, with the producer\'s own code: a key file, or a Redis store (redis:// URL) shared by replicas.')
  statusCommand(keys, run)
  rotateCommand(keys, run)
  rollbackCommand(keys, run)
  revokeCommand(keys, run)
  generateCommand(keys, run)
}
