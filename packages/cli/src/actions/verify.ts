import type { Command } from 'commander'
import { DEFAULT_CLOCK_SKEW, DEFAULT_TOKEN_TTL, RECEIVER_ERRORS, parseDuration, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { JWKS_DEFAULTS, explainWebhook, type WebhookExplanation } from '@webhook-jwt/consumer'
import { checkDetail, type VerifySettings } from '../check-details.ts'
import { EXIT, type ExitCode } from '../cli-error.ts'
import type { Output, Tone } from '../output.ts'
import type { CommandDefinition } from '../program.ts'
import { readBytes, readToken } from '../read-input.ts'

interface VerifyOptions {
  jwks: string
  issuer: string
  audience: string[]
  body?: string
  algorithms: string
  clockTolerance: string
  maxTokenAge: string
  bodyDigest: string
  timeout: string
}

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

const MARK: Record<'passed' | 'failed' | 'skipped', [string, Tone]> = { passed: ['✓', 'pass'], failed: ['✗', 'fail'], skipped: ['-', 'dim'] }

/** What the sender is told to do with the answer, as the protocol's error contract says. */
function senderAdvice (explanation: WebhookExplanation): string {
  const { code, retryAfter } = explanation.verdict
  if (code === null) return 'the consumer accepts it (once: a second delivery of the same token is refused as WEBHOOK_REPLAYED)'
  const action = RECEIVER_ERRORS[code].action
  if (action === 'never') return 'the sender should not retry this token: a 401 is final'
  if (action === 'retry') return 'a sender that has just rotated retries, re-signed; otherwise the key is not the sender\'s or was revoked'
  return `the sender should retry after ${retryAfter as number}s (Retry-After)`
}

function exitCodeOf (explanation: WebhookExplanation): ExitCode {
  // A 503 means the key could not be fetched: whether the token verifies is unknown.
  return explanation.verdict.status === 200 ? EXIT.ok : explanation.verdict.status === 503 ? EXIT.unavailable : EXIT.no
}

function print (output: Output, explanation: WebhookExplanation, settings: VerifySettings, nowMs: number): void {
  output.line(`Verifying as a consumer for issuer ${settings.issuer}, audience ${settings.audiences.join(', ')}, keys from ${settings.jwksUrl}`)
  const width = Math.max(...explanation.checks.map((check) => check.name.length))
  for (const check of explanation.checks) {
    const [mark, tone] = MARK[check.outcome]
    const code = check.code === undefined ? '' : ` → ${output.paint('fail', check.code)}`
    output.line(`  ${output.paint(tone, mark)} ${check.name.padEnd(width)}  ${checkDetail(check, explanation, settings, nowMs)}${code}`)
  }
  const { status, code } = explanation.verdict
  const answer = code === null ? output.paint('pass', `${status} verified`) : output.paint('fail', `${status} ${code}`)
  output.line(`${output.paint('bold', 'Answer')}  ${answer}${code === null ? '' : ` (${RECEIVER_ERRORS[code].title})`}: ${senderAdvice(explanation)}`)
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
    .option('--clock-tolerance <duration>', 'the consumer\'s clockTolerance', `${DEFAULT_CLOCK_SKEW}s`)
    .option('--max-token-age <duration>', 'the consumer\'s maxTokenAge', `${DEFAULT_TOKEN_TTL}s`)
    .option('--body-digest <rule>', 'the consumer\'s bodyDigest: required or optional', 'required')
    .option('--timeout <duration>', 'deadline of the JWKS fetch', `${JWKS_DEFAULTS.timeout}s`)
    .addHelpText('after', '\nExample:\n  $ webhook-jwt verify "$TOKEN" --jwks https://sender.example/.well-known/jwks.json \\\n      --issuer https://sender.example --audience https://receiver.example/hooks --body body.json')
    .action(run<[string], VerifyOptions>(async ({ output, terminal, options }, argument) => {
      const token = await readToken(argument, terminal.stdin)
      const body = options.body === undefined ? undefined : await readBytes(options.body, terminal.stdin, 'body file')
      const clockToleranceSec = parseDuration(options.clockTolerance, 'clockTolerance')
      const maxTokenAgeSec = parseDuration(options.maxTokenAge, 'maxTokenAge')
      const algorithms = options.algorithms.split(',').map((name) => name.trim()) as SigningAlgorithm[]
      const settings: VerifySettings = { issuer: options.issuer, audiences: options.audience, algorithms, clockToleranceSec, maxTokenAgeSec, jwksUrl: options.jwks }
      const explanation = await explainWebhook({ token, ...(body === undefined ? {} : { body }) }, {
        issuer: options.issuer,
        jwksUrl: options.jwks,
        audience: options.audience,
        algorithms,
        clockTolerance: clockToleranceSec,
        maxTokenAge: maxTokenAgeSec,
        bodyDigest: options.bodyDigest as 'required',
        jwks: { timeout: options.timeout }
      })
      const nowMs = Date.now()
      output.result({
        checks: explanation.checks.map((check) => ({ ...check, detail: checkDetail(check, explanation, settings, nowMs) })),
        answer: { ...explanation.verdict, ...(explanation.verdict.code === null ? {} : { title: RECEIVER_ERRORS[explanation.verdict.code].title, senderAction: RECEIVER_ERRORS[explanation.verdict.code].action }) },
        header: explanation.header,
        claims: explanation.claims,
        keySet: explanation.keySet
      })
      print(output, explanation, settings, nowMs)
      return exitCodeOf(explanation)
    }, FLAGS))
}
