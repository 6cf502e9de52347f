import { RECEIVER_ERRORS, parseDuration, type SigningAlgorithm } from '@webhook-jwt/protocol'
import { explainWebhook, type WebhookExplanation } from '@webhook-jwt/consumer'
import { checkDetail, type VerifySettings } from '../check-details.ts'
import { EXIT, type ExitCode } from '../cli-error.ts'
import type { Output, Tone } from '../output.ts'
import type { CommandContext } from '../program.ts'
import { readBytes, readToken } from '../read-input.ts'

/** The flags of `verify`. */
export interface VerifyOptions {
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

/** `webhook-jwt verify`: runs the consumer's checks on the token and prints each; the exit code is the consumer's answer. */
export async function verify ({ output, terminal, options }: CommandContext<VerifyOptions>, argument: string): Promise<ExitCode> {
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
}
