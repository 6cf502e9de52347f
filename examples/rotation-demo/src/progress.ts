import type { Writable } from 'node:stream'
import { shortKid } from '@webhook-jwt/cli'
import { isFailure, type DeliveryRecord, type TransitionRecord } from './run-record.ts'
import type { DemoObserver } from './scenario.ts'

const BAR_WIDTH = 24
const TERMINAL_REFRESH_MS = 200
const PLAIN_REFRESH_MS = 5000

/**
 * Live progress. On a terminal, one line redrawn in place under the events; otherwise (a pipe, CI) plain
 * lines: every event, and the counts every few seconds.
 */
export class Progress implements DemoObserver {
  readonly #out: Writable & { isTTY?: boolean }
  readonly #durationMs: number
  readonly #started = Date.now()
  readonly #timer: NodeJS.Timeout
  #sent = 0
  #verified = 0
  #refused = 0
  #failed = 0
  #signing = ''
  #lineShown = false

  constructor (out: Writable & { isTTY?: boolean }, durationMs: number) {
    this.#out = out
    this.#durationMs = durationMs
    this.#timer = setInterval(() => this.#status(), this.#out.isTTY === true ? TERMINAL_REFRESH_MS : PLAIN_REFRESH_MS).unref()
  }

  transition (step: TransitionRecord): void {
    if (step.to === 'active') this.#signing = step.kid
    this.#line(`key ${shortKid(step.kid)} ${step.from ?? 'created'} → ${step.to}${step.reason === 'rotation' || step.reason === 'bootstrap' ? '' : ` (${step.reason})`}`)
  }

  delivery (delivery: DeliveryRecord): void {
    this.#sent++
    if (isFailure(delivery)) this.#failed++
    else if (delivery.status === 200) this.#verified++
    else this.#refused++
  }

  note (text: string): void {
    this.#line(text)
  }

  /** Stops redrawing; leaves the last counts on screen. */
  stop (): void {
    clearInterval(this.#timer)
    this.#status()
    if (this.#lineShown) this.#out.write('\n')
    this.#lineShown = false
  }

  #elapsed (): string {
    return `${((Date.now() - this.#started) / 1000).toFixed(1)}s`.padStart(6)
  }

  #counts (): string {
    return `sent ${this.#sent}  verified ${this.#verified}  attacks refused ${this.#refused}  failed ${this.#failed}  signing ${this.#signing === '' ? '—' : shortKid(this.#signing)}`
  }

  #line (text: string): void {
    this.#out.write(`${this.#lineShown ? '\r\x1b[2K' : ''}${this.#elapsed()}  ${text}\n`)
    this.#lineShown = false
    if (this.#out.isTTY === true) this.#status()
  }

  #status (): void {
    if (this.#out.isTTY !== true) {
      this.#out.write(`${this.#elapsed()}  ${this.#counts()}\n`)
      return
    }
    const done = Math.min((Date.now() - this.#started) / this.#durationMs, 1)
    const filled = Math.round(done * BAR_WIDTH)
    this.#out.write(`\r\x1b[2K[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${this.#elapsed()}  ${this.#counts()}`)
    this.#lineShown = true
  }
}
