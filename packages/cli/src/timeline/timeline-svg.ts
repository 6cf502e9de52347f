import type { KeyTimeline, TimelineLane } from './key-timeline.ts'
import { shortKid } from './key-timeline.ts'
import { STATE_STYLE } from './state-style.ts'
import { axisTicks, momentText, spanOf } from './time-axis.ts'

const REVOKE_COLOUR = '#cb181d'
const NOW_COLOUR = '#6a51a3'
const PLANNED_SWATCH = '#969696'
const PLANNED_LABEL = 'scheduled, not happened yet'

const WIDTH = 1000
/** The lanes start here, or further right when a caption needs the room. */
const MIN_LEFT = 200
const RIGHT = 24
const TOP = 88
const LANE = 34
const GAP = 12
/** Roughly the width of a character at 12px, to lay out captions and the legend without measuring text. */
const CHAR_WIDTH = 6.2
const LEGEND_ROW = 22
const DATA_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/

/**
 * Text made safe for SVG and HTML, in content and in quoted attributes.
 *
 * @example
 * escapeXml('<b>') // '&#60;b&#62;'
 */
export function escapeXml (text: string): string {
  return text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`)
}

function dataAttributes (lane: TimelineLane): string {
  return Object.entries(lane.data ?? {}).map(([name, value]) => {
    if (!DATA_NAME.test(name)) throw new TypeError(`timelineSvg: lane ${lane.kid} data names must be lower-case words joined by hyphens, got ${JSON.stringify(name)}`)
    return ` data-${name}="${escapeXml(String(value))}"`
  }).join('')
}

/**
 * A label beside a vertical line at `at`: on its right, or on its left where it would run off the picture.
 * `charWidth` is roughly a character's width in the label's font.
 */
function besideLine (at: number, gap: number, y: number, text: string, charWidth: number, attributes: string): string {
  const flip = at + gap + text.length * charWidth > WIDTH
  return `<text x="${flip ? at - gap : at + gap}" y="${y}"${flip ? ' text-anchor="end"' : ''} ${attributes}>${text}</text>`
}

interface LegendEntry {
  swatch: string
  text: string
  width: number
}

/** The legend's entries laid out left to right, wrapping onto a new row when the next would not fit. */
function legendRows (timeline: KeyTimeline): LegendEntry[][] {
  const entries = Object.entries(STATE_STYLE).map(([state, style]) => ({ swatch: `fill="${style.fill}"`, text: `${state}: ${style.label}` }))
  if (timeline.lanes.some((lane) => lane.segments.some((segment) => segment.planned === true))) {
    entries.push({ swatch: `fill="${PLANNED_SWATCH}" fill-opacity="0.35" stroke="${PLANNED_SWATCH}" stroke-dasharray="3 2"`, text: `planned: ${PLANNED_LABEL}` })
  }
  const rows: LegendEntry[][] = [[]]
  let x = 16
  for (const entry of entries) {
    const width = 40 + (entry.text.length - 2) * CHAR_WIDTH
    if (x + width > WIDTH) {
      rows.push([])
      x = 16
    }
    (rows.at(-1) as LegendEntry[]).push({ ...entry, width })
    x += width
  }
  return rows
}

/**
 * The key lifecycle as an SVG: one lane per kid with its caption, each state in its colour (planned stretches
 * lighter, with a dashed edge), each switch and revoke as a vertical marker, an optional "now" line, the
 * receiver's JWKS fetches along the bottom when the timeline has them, and a legend.
 *
 * Readers of the picture can rely on `g.lane[data-kid]` (plus the lane's `data`), `rect.state[data-state]`
 * (`rect.state.planned` for planned stretches), `line.rotation`, `line.revoke`, `line.now` and `line.fetch`.
 *
 * @example
 * writeFileSync('keys.svg', timelineSvg(timelineFromKeys(app.webhooks.status().keys, Date.now())))
 */
export function timelineSvg (timeline: KeyTimeline): string {
  const { lanes } = timeline
  const span = spanOf(timeline)
  const left = Math.max(MIN_LEFT, Math.ceil(32 + Math.max(0, ...lanes.map((lane) => lane.caption.length)) * CHAR_WIDTH))
  const x = (ms: number): number => left + (Math.min(Math.max(ms - timeline.startMs, 0), span) / span) * (WIDTH - left - RIGHT)
  const laneY = (index: number): number => TOP + index * (LANE + GAP)
  const bottom = laneY(lanes.length) + 8
  const gridBottom = timeline.fetches === null ? bottom : bottom + 20
  const legend = legendRows(timeline)
  const legendY = timeline.fetches === null ? bottom + 20 : bottom + 44
  const height = legendY + (legend.length - 1) * LEGEND_ROW + 36
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="17" font-weight="600">${escapeXml(timeline.title)}</text>`
  ]

  if (timeline.axis === 'clock') parts.push(`<text x="16" y="${TOP - 40}" fill="#555555">UTC</text>`)
  for (const tick of axisTicks(timeline, 12)) {
    parts.push(`<line x1="${x(tick.atMs)}" y1="${TOP - 34}" x2="${x(tick.atMs)}" y2="${gridBottom}" stroke="#eeeeee"/>`,
      `<text x="${x(tick.atMs)}" y="${TOP - 40}" text-anchor="middle" fill="#555555">${tick.label}</text>`)
  }

  lanes.forEach((lane, index) => {
    const y = laneY(index)
    parts.push(`<g class="lane" data-kid="${escapeXml(lane.kid)}"${dataAttributes(lane)}>`,
      `<text x="16" y="${y + 15}" font-family="ui-monospace, monospace">${escapeXml(shortKid(lane.kid))}</text>`,
      `<text x="16" y="${y + 30}" fill="#555555" font-size="12">${escapeXml(lane.caption)}</text>`)
    for (const segment of lane.segments) {
      const width = Math.max(x(segment.toMs) - x(segment.fromMs), 1)
      const { fill } = STATE_STYLE[segment.state]
      const look = segment.planned === true ? ` fill-opacity="0.35" stroke="${fill}" stroke-dasharray="4 3"` : ''
      const when = `${momentText(timeline, segment.fromMs)}–${momentText(timeline, segment.toMs)}${segment.planned === true ? ' (planned)' : ''}`
      parts.push(`<rect class="state${segment.planned === true ? ' planned' : ''}" data-state="${segment.state}" x="${x(segment.fromMs)}" y="${y}" width="${width}" height="${LANE}" fill="${fill}"${look}>` +
        `<title>${escapeXml(shortKid(lane.kid))} ${segment.state} ${when}</title></rect>`)
    }
    if (lane.revokedAtMs !== null) parts.push(besideLine(x(lane.revokedAtMs), 4, y + 22, '✕ revoked', 8, `fill="${REVOKE_COLOUR}" font-weight="700"`))
    parts.push('</g>')
  })

  timeline.switches.forEach((marker, index) => {
    const at = x(marker.atMs)
    const [planned, colour] = marker.planned === true ? [' planned', '#999999'] : ['', '#333333']
    parts.push(`<line class="rotation${planned}" x1="${at}" y1="${TOP - 8}" x2="${at}" y2="${bottom}" stroke="${colour}" stroke-dasharray="${planned === '' ? '4 3' : '2 4'}"/>`,
      besideLine(at, 3, TOP - 2, planned === '' ? `switch #${index + 1}` : 'switch (planned)', 6, `font-size="11" fill="${colour}"`))
  })
  for (const revoke of timeline.revokes) {
    parts.push(`<line class="revoke" x1="${x(revoke)}" y1="${TOP - 28}" x2="${x(revoke)}" y2="${bottom}" stroke="${REVOKE_COLOUR}" stroke-width="2"/>`,
      besideLine(x(revoke), 3, TOP - 18, 'revoke', 6.5, `font-size="11" fill="${REVOKE_COLOUR}" font-weight="700"`))
  }
  if (timeline.nowMs !== null) {
    parts.push(`<line class="now" x1="${x(timeline.nowMs)}" y1="${TOP - 34}" x2="${x(timeline.nowMs)}" y2="${gridBottom}" stroke="${NOW_COLOUR}" stroke-width="1.5"/>`,
      besideLine(x(timeline.nowMs), 3, TOP - 26, 'now', 6.5, `font-size="11" fill="${NOW_COLOUR}" font-weight="700"`))
  }

  if (timeline.fetches !== null) {
    parts.push(`<text x="16" y="${bottom + 16}" fill="#555555" font-size="12">receiver JWKS fetches</text>`)
    for (const fetch of timeline.fetches) {
      parts.push(`<line class="fetch" x1="${x(fetch.atMs)}" y1="${bottom + 4}" x2="${x(fetch.atMs)}" y2="${bottom + 20}" stroke="${fetch.ok ? '#555555' : REVOKE_COLOUR}"/>`)
    }
  }

  legend.forEach((row, index) => {
    const y = legendY + index * LEGEND_ROW
    let legendX = 16
    for (const entry of row) {
      parts.push(`<rect x="${legendX}" y="${y}" width="14" height="14" ${entry.swatch}/>`,
        `<text x="${legendX + 20}" y="${y + 12}" font-size="12">${escapeXml(entry.text)}</text>`)
      legendX += entry.width
    }
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
