/** Every webhook body is exactly this long: 1 KiB of JSON. */
export const BODY_BYTES = 1024
const ID_DIGITS = 12

/**
 * A realistic event, padded to 1 KiB. Bodies differ by their event id only, so that each one is its own
 * body and digest, while the harness rebuilds any of them in a microsecond instead of keeping them all.
 */
function bodyTemplate (): { template: Buffer, idOffset: number } {
  const event = {
    type: 'invoice.paid',
    id: `evt_${'0'.repeat(ID_DIGITS)}`,
    created: 1767225600,
    data: {
      invoice: 'in_1QxY2bC3dE4fG5hI',
      customer: 'cus_Ra8Kd2LmPq4vXz',
      amount_due: 12900,
      amount_paid: 12900,
      currency: 'eur',
      status: 'paid',
      lines: [
        { description: 'Pro plan (monthly)', amount: 9900, quantity: 1 },
        { description: 'Extra seats', amount: 3000, quantity: 3 }
      ],
      metadata: { order: 'o_8842', region: 'eu-west' }
    },
    note: ''
  }
  const unpadded = Buffer.byteLength(JSON.stringify(event))
  event.note = 'x'.repeat(BODY_BYTES - unpadded)
  const text = JSON.stringify(event)
  const template = Buffer.from(text)
  if (template.length !== BODY_BYTES) throw new Error(`the body template is ${template.length} bytes, not ${BODY_BYTES}`)
  return { template, idOffset: text.indexOf('"evt_') + '"evt_'.length }
}

const { template, idOffset } = bodyTemplate()

/** The event id of webhook `index`, which is also its `webhook_id`. */
export function webhookIdOf (index: number): string {
  return `evt_${String(index).padStart(ID_DIGITS, '0')}`
}

/** The exact body of webhook `index`. */
export function webhookBodyOf (index: number): Buffer {
  const body = Buffer.from(template)
  body.write(String(index).padStart(ID_DIGITS, '0'), idOffset, 'latin1')
  return body
}
