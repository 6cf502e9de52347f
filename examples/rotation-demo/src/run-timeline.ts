import type { KeyTimeline } from '@webhook-jwt/cli'
import { keyLanes, rotationTimelines } from './key-lanes.ts'
import type { RunRecord } from './run-record.ts'

/**
 * The run as the CLI's key timeline: seconds since the start on the axis, a lane per kid captioned with the
 * deliveries it got verified, each rotation's switch, the revoke, and the receiver's JWKS fetches.
 */
export function runTimeline (run: RunRecord): KeyTimeline {
  const lanes = keyLanes(run)
  const rotations = rotationTimelines(run)
  return {
    title: `Signing key lifecycle: ${lanes.length} keys, ${rotations.length} rotations${run.revoke === null ? '' : ', 1 revoke'}`,
    startMs: 0,
    endMs: run.durationMs,
    axis: 'elapsed',
    nowMs: null,
    lanes: lanes.map((lane) => ({
      kid: lane.kid,
      caption: `${lane.verified.toLocaleString('en')} verified`,
      segments: lane.segments.map((segment) => ({ state: segment.state, fromMs: segment.from, toMs: segment.to })),
      revokedAtMs: lane.revokedAt,
      data: { verified: lane.verified }
    })),
    switches: rotations.flatMap((rotation) => rotation.switchedAt === null ? [] : [{ atMs: rotation.switchedAt }]),
    revokes: run.revoke === null ? [] : [run.revoke.at],
    // A fetch held back by the cooldown made no request: nothing to draw.
    fetches: run.keySetFetches.flatMap((fetch) => fetch.outcome === 'cooldown' ? [] : [{ atMs: fetch.at, ok: fetch.outcome === 'fetched' }])
  }
}
