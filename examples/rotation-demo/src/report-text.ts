import { shortKid } from '@webhook-jwt/cli'
import { keyLanes, rotationTimelines, type KeyLane } from './key-lanes.ts'
import { EXPECTED_CODE, INTENT_LABEL, type RunRecord } from './run-record.ts'
import { tally } from './tally.ts'

const at = (ms: number | null): string => ms === null ? '—' : `${(ms / 1000).toFixed(1)}s`

/** The end-of-run report: deliveries, rejections by reason, per-key counts, each rotation's timeline. */
export function reportText (run: RunRecord): string {
  const counts = tally(run.deliveries)
  const lines = [
    `Deliveries: ${counts.sent} sent in ${at(run.durationMs)} (${counts.legitimate} legitimate, ${counts.attacks} attacks)`,
    `  verified: ${counts.verified} of ${counts.legitimate} legitimate deliveries${counts.retried > 0 ? ` (${counts.retried} after a 503 and a retry)` : ''}`
  ]
  if (counts.rejected.length === 0) lines.push('  rejected: none')
  for (const { code, byIntent } of counts.rejected) {
    for (const [intent, count] of byIntent) {
      const verdict = intent !== 'legitimate' && EXPECTED_CODE[intent] === code ? 'as it must be' : 'WRONG'
      lines.push(`  rejected ${code}: ${count} (${INTENT_LABEL[intent]}: ${verdict})`)
    }
  }

  for (const delivery of run.deliveries) {
    if (delivery.intent !== 'legitimate' && delivery.status === 200) lines.push(`  ACCEPTED at ${at(delivery.at)}: ${INTENT_LABEL[delivery.intent]} (WRONG)`)
  }

  const lanes = new Map(keyLanes(run).map((lane) => [lane.kid, lane]))
  lines.push('', 'Keys (kid: verified deliveries; states with the time each began)')
  for (const lane of lanes.values()) {
    const states = lane.segments.map((segment) => `${segment.state} ${at(segment.from)}`).join(' → ')
    lines.push(`  ${shortKid(lane.kid)}  ${String(lane.verified).padStart(6)} verified   ${states}${lane.revokedAt === null ? '' : '  (REVOKED)'}`)
  }

  lines.push('', 'Rotations (publish → switch → retire the old key)')
  rotationTimelines(run).forEach((rotation, index) => {
    const old = rotation.oldKid === null ? '' : `, ${shortKid(rotation.oldKid)} ${rotation.retiredAt === null ? `not retired: ${(lanes.get(rotation.oldKid) as KeyLane).finalState} at the end` : `retired ${at(rotation.retiredAt)}`}`
    lines.push(`  #${index + 1}  ${shortKid(rotation.newKid)} published ${at(rotation.publishedAt)}, signs from ${at(rotation.switchedAt)}${old}`)
  })

  if (run.revoke !== null) {
    const replayed = run.deliveries.filter((delivery) => delivery.intent === 'revoked-key')
    const refused = replayed.filter((delivery) => delivery.code === EXPECTED_CODE['revoked-key']).length
    lines.push('', `Emergency revoke (scenario): ${shortKid(run.revoke.kid)} revoked at ${at(run.revoke.at)}; the receiver dropped it at ${at(run.revoke.receiverDroppedAt)}; ${refused} of ${replayed.length} captured tokens refused`)
  }

  lines.push('', counts.failed === 0
    ? `PASS: zero failed deliveries: every legitimate delivery verified, every attack refused with its code (${counts.sent} deliveries)`
    : `FAIL: ${counts.failed} deliveries did not get the answer they deserved (see WRONG above)`)
  return lines.join('\n')
}
