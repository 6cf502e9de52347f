import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import { CliError, EXIT, flagError, type ExitCode } from './cli-error.ts'
import { Output, type Terminal } from './output.ts'

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

/** What a command's action gets: its output, the terminal (for standard input), and its parsed options. */
export interface CommandContext<Options> {
  output: Output
  terminal: Terminal
  options: Options
}

/** A command's action: resolves the exit code, or throws a `CliError`. */
export type CommandAction<Args extends unknown[], Options> = (context: CommandContext<Options>, ...args: Args) => Promise<ExitCode>

/**
 * Runs an action: prints a `CliError` and returns its exit code. `flags` maps the plugin options a command sets
 * from flags to those flags, so an option the plugins refuse is reported under the flag the operator typed.
 */
export type ActionRunner = <Args extends unknown[], Options>(action: CommandAction<Args, Options>, flags?: Readonly<Record<string, string>>) => (...args: unknown[]) => Promise<void>

/** Builds one subcommand on `program` and runs its actions through `run`. */
export type CommandDefinition = (program: Command, run: ActionRunner) => void

/**
 * Runs the `webhook-jwt` command line and resolves its exit code: 0 yes, 1 no, 2 usage, 3 could not find out.
 * Every command takes `--json` (one JSON document on stdout) and `--no-color`.
 */
export async function runProgram (argv: readonly string[], terminal: Terminal, commands: readonly CommandDefinition[]): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok
  const program = new Command('webhook-jwt')
    .description('Operate webhook-jwt: decode a token, inspect a JWKS, explain a verification, operate a producer key store.')
    .version(version)
    .exitOverride()
    .showHelpAfterError('(add --help for usage and an example)')
    .configureOutput({
      writeOut: (text) => { terminal.stdout.write(text) },
      writeErr: (text) => { terminal.stderr.write(text) }
    })

  function run<Args extends unknown[], Options> (action: CommandAction<Args, Options>, flags: Readonly<Record<string, string>> = {}): (...args: unknown[]) => Promise<void> {
    return async (...args) => {
      // Commander passes the positional arguments, then the options, then the command itself.
      const command = args.at(-1) as Command
      const options = command.opts<Options & { json?: boolean, color: boolean }>()
      const output = new Output(terminal, { json: options.json === true, color: options.color })
      try {
        exitCode = await action({ output, terminal, options }, ...(args.slice(0, -2) as Args))
      } catch (thrown) {
        // The plugins' option checks, reached through a flag: the same rule, named by the flag. The protocol is
        // loaded here rather than at the start: a command that needs it has loaded it by now.
        const { WebhookOptionError } = await import('@webhook-jwt/protocol')
        const error = thrown instanceof WebhookOptionError ? flagError(thrown, flags) : thrown
        /* c8 ignore next -- anything but a CliError is a bug: Node prints it with its stack, and exits non-zero */
        if (!(error instanceof CliError)) throw error
        output.error(error.code, error.message)
        exitCode = error.exitCode
      }
    }
  }

  for (const define of commands) define(program, run)
  // Every command that runs an action takes the common flags; a group such as `keys` only holds commands.
  const withCommonFlags = (command: Command): void => {
    command.exitOverride()
    if (command.commands.length > 0) {
      command.commands.forEach(withCommonFlags)
      return
    }
    command
      .option('--json', 'print one JSON document on stdout, for scripts')
      .option('--no-color', 'no colours, even on a terminal (NO_COLOR works too)')
  }
  program.commands.forEach(withCommonFlags)
  try {
    await program.parseAsync(argv, { from: 'user' })
  } catch (error) {
    /* c8 ignore next -- actions throw nothing but bugs (see run): Node prints them with their stack */
    if (!(error instanceof CommanderError)) throw error
    // --help and --version end the parse with exit code 0; every other Commander error is a wrong command line.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage
  }
  return exitCode
}
