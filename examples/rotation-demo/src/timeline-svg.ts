import { keyLanes, rotationTimelines, shortKid } from './key-lanes.ts'
import type { KeyState, RunRecord } from './run-record.ts'

/** Each state's colour and legend, as in the classic key rollover diagram. */
export const STATE_STYLE: Readonly<Record<KeyState, { fill: string, label: string }>> = {
  next: { fill: '#6baed6', label: 'published, not signing yet' },
  active: { fill: '#238b45', label: 'signing' },
  retiring: { fill: '#fd8d3c', label: 'published, no longer signing' },
  retired: { fill: '#d9d9d9', label: 'unpublished, private key destroyed' }
}
const REVOKE_COLOUR = '#cb181d'

const WIDTH = 1000
const LEFT = 200
const RIGHT = 24
const TOP = 88
const LANE = 34
const GAP = 12

export function escapeXml (text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`)
}

function axisStep (durationMs: number): number {
  return [1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000].find((step) => durationMs / step <= 12) ?? 600_000
}

/**
 * The key lifecycle as an SVG: one lane per kid (published, signing, retiring, retired), the deliveries each
 * key got verified, each rotation's switch and the revoke as vertical markers, and the receiver's JWKS
 * fetches along the bottom.
 */
export function timelineSvg (run: RunRecord): string {
  const lanes = keyLanes(run)
  const span = Math.max(run.durationMs, 1)
  const x = (ms: number): number => LEFT + (Math.min(Math.max(ms, 0), span) / span) * (WIDTH - LEFT - RIGHT)
  const laneY = (index: number): number => TOP + index * (LANE + GAP)
  const fetchY = laneY(lanes.length) + 8
  const legendY = fetchY + 44
  const height = legendY + 36
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="17" font-weight="600">Signing key lifecycle: ${lanes.length} keys, ${rotationTimelines(run).length} rotations${run.revoke === null ? '' : ', 1 revoke'}</text>`
  ]

  const step = axisStep(span)
  for (let tick = 0; tick <= span; tick += step) {
    parts.push(`<line x1="${x(tick)}" y1="${TOP - 34}" x2="${x(tick)}" y2="${fetchY + 20}" stroke="#eeeeee"/>`,
      `<text x="${x(tick)}" y="${TOP - 40}" text-anchor="middle" fill="#555555">${tick / 1000}s</text>`)
  }

  lanes.forEach((lane, index) => {
    const y = laneY(index)
    parts.push(`<g class="lane" data-kid="${escapeXml(lane.kid)}" data-verified="${lane.verified}">`,
      `<text x="16" y="${y + 15}" font-family="ui-monospace, monospace">${escapeXml(shortKid(lane.kid))}</text>`,
      `<text x="16" y="${y + 30}" fill="#555555" font-size="12">${lane.verified.toLocaleString('en')} verified</text>`)
    for (const segment of lane.segments) {
      const width = Math.max(x(segment.to) - x(segment.from), 1)
      parts.push(`<rect class="state" data-state="${segment.state}" x="${x(segment.from)}" y="${y}" width="${width}" height="${LANE}" fill="${STATE_STYLE[segment.state].fill}">` +
        `<title>${escapeXml(shortKid(lane.kid))} ${segment.state} ${(segment.from / 1000).toFixed(1)}s–${(segment.to / 1000).toFixed(1)}s</title></rect>`)
    }
    if (lane.revokedAt !== null) parts.push(`<text x="${x(lane.revokedAt) + 4}" y="${y + 22}" fill="${REVOKE_COLOUR}" font-weight="700">✕ revoked</text>`)
    parts.push('</g>')
  })

  rotationTimelines(run).forEach((rotation, index) => {
    if (rotation.switchedAt === null) return
    parts.push(`<line class="rotation" x1="${x(rotation.switchedAt)}" y1="${TOP - 8}" x2="${x(rotation.switchedAt)}" y2="${fetchY}" stroke="#333333" stroke-dasharray="4 3"/>`,
      `<text x="${x(rotation.switchedAt) + 3}" y="${TOP - 2}" font-size="11" fill="#333333">switch #${index + 1}</text>`)
  })
  if (run.revoke !== null) {
    parts.push(`<line class="revoke" x1="${x(run.revoke.at)}" y1="${TOP - 28}" x2="${x(run.revoke.at)}" y2="${fetchY}" stroke="${REVOKE_COLOUR}" stroke-width="2"/>`,
      `<text x="${x(run.revoke.at) + 3}" y="${TOP - 18}" font-size="11" fill="${REVOKE_COLOUR}" font-weight="700">revoke</text>`)
  }

  parts.push(`<text x="16" y="${fetchY + 16}" fill="#555555" font-size="12">receiver JWKS fetches</text>`)
  for (const fetch of run.keySetFetches) {
    if (fetch.outcome === 'cooldown') continue
    parts.push(`<line class="fetch" x1="${x(fetch.at)}" y1="${fetchY + 4}" x2="${x(fetch.at)}" y2="${fetchY + 20}" stroke="${fetch.outcome === 'fetched' ? '#555555' : REVOKE_COLOUR}"/>`)
  }

  let legendX = 16
  for (const [state, style] of Object.entries(STATE_STYLE)) {
    parts.push(`<rect x="${legendX}" y="${legendY}" width="14" height="14" fill="${style.fill}"/>`,
      `<text x="${legendX + 20}" y="${legendY + 12}" font-size="12">${state}: ${escapeXml(style.label)}</text>`)
    legendX += 40 + (state.length + style.label.length) * 6.2
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
