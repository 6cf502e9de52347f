/** The command's exit codes, the same for every command (listed in the README). */
export const EXIT = {
  /** Done, and the answer is yes: it verifies, the kid is there, the step was applied. */
  ok: 0,
  /** Done, and the answer is no: it does not verify, the kid is absent, the key set has problems. */
  no: 1,
  /** The command line is wrong: an unknown command or option, a missing argument, a bad value. */
  usage: 2,
  /** The command could not find out: a URL it cannot reach, a file or key store it cannot read, input it cannot parse. */
  unavailable: 3
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

/**
 * A failure the operator can act on: a stable `code` for scripts (printed in `--json` output), a message
 * that says what was wrong and, where it helps, what to do, and the exit code.
 */
export class CliError extends Error {
  readonly code: string
  readonly exitCode: ExitCode

  constructor (code: string, message: string, exitCode: ExitCode = EXIT.unavailable) {
    super(message)
    this.name = 'CliError'
    this.code = code
    this.exitCode = exitCode
  }
}

/** A wrong command line: exit code 2. */
export function usageError (message: string): CliError {
  return new CliError('USAGE', message, EXIT.usage)
}

/**
 * A plugin option refused through a flag: the same rule, named by the flag the operator typed. The plugins'
 * messages start with the quoted option path; `flags` maps those paths to flags.
 */
export function flagError (error: { option: string, message: string }, flags: Readonly<Record<string, string>>): CliError {
  const flag = flags[error.option]
  return usageError(flag === undefined ? error.message : `${flag} ${error.message.slice(error.option.length + 3)}`)
}
