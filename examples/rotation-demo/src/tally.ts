import { isFailure, type DeliveryRecord, type Intent } from './run-record.ts'

/** Rejections of one code, split by what was sent. */
export interface Rejections {
  code: string
  byIntent: Map<Intent, number>
}

export interface Tally {
  sent: number
  legitimate: number
  /** Legitimate deliveries the receiver verified. */
  verified: number
  /** Legitimate deliveries that needed more than one attempt (a 503, then a retry). */
  retried: number
  attacks: number
  /** Deliveries that did not get the answer they deserved: the demo fails if there is one. */
  failed: number
  rejected: Rejections[]
}

export function tally (deliveries: readonly DeliveryRecord[]): Tally {
  const rejected = new Map<string, Rejections>()
  let legitimate = 0
  let verified = 0
  let retried = 0
  let failed = 0
  for (const delivery of deliveries) {
    if (delivery.intent === 'legitimate') {
      legitimate++
      if (delivery.status === 200) verified++
      if (delivery.attempts > 1) retried++
    }
    if (isFailure(delivery)) failed++
    if (delivery.status !== 200) {
      const code = delivery.code ?? `HTTP ${delivery.status}`
      const entry = rejected.get(code) ?? { code, byIntent: new Map() }
      entry.byIntent.set(delivery.intent, (entry.byIntent.get(delivery.intent) ?? 0) + 1)
      rejected.set(code, entry)
    }
  }
  return { sent: deliveries.length, legitimate, verified, retried, attacks: deliveries.length - legitimate, failed, rejected: [...rejected.values()] }
}
