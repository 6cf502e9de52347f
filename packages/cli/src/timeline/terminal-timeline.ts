import type { KeyState } from '@webhook-jwt/producer'
import type { KeyTimeline, TimelineLane, TimelineSegment } from './key-timeline.ts'
import { shortKid } from './key-timeline.ts'
import { axisTicks, spanOf } from './time-axis.ts'

/** How `terminalTimeline` draws. */
export interface TerminalTimelineOptions {
  /** Cells in each key's bar, at least 10: the terminal's columns less the kid and caption columns. */
  width: number
  /** Whether to colour the bars with ANSI escapes: `true` on a terminal, `false` in a pipe or under NO_COLOR. */
  colour: boolean
}

// A character per state, so that the bars read without colour too.
const GLYPH: Readonly<Record<KeyState, string>> = { next: '░', active: '█', retiring: '▒', retired: '·' }
const PLANNED_GLYPH = '┄'
const REVOKED_GLYPH = '✕'
// The basic ANSI colours nearest to the SVG's: blue, green, yellow for its orange, grey; planned ones dimmed.
const ANSI: Readonly<Record<KeyState, string>> = { next: '34', active: '32', retiring: '33', retired: '90' }
const ANSI_REVOKE = '31'
const ANSI_NOW = '35'
const MIN_WIDTH = 10
/** Cells between axis ticks at least: more than a label (`14:00:30`, `1800s`, `Nov 20`) takes, so labels keep a gap. */
const CELLS_PER_TICK = 10

/** A character and its ANSI colour (SGR parameters), or `null` for none. */
interface Cell {
  text: string
  sgr: string | null
}

const BLANK: Cell = { text: ' ', sgr: null }

/** Cells as text; with colour, each run of one colour in one escape, reset after it. */
function paint (cells: readonly Cell[], colour: boolean): string {
  let out = ''
  for (let start = 0; start < cells.length;) {
    const { sgr } = cells[start] as Cell
    let end = start
    while (end < cells.length && (cells[end] as Cell).sgr === sgr) end++
    const text = cells.slice(start, end).map((cell) => cell.text).join('')
    out += colour && sgr !== null ? `\x1b[${sgr}m${text}\x1b[0m` : text
    start = end
  }
  return out
}

function segmentCell (segment: TimelineSegment): Cell {
  return segment.planned === true
    ? { text: PLANNED_GLYPH, sgr: `2;${ANSI[segment.state]}` }
    : { text: GLYPH[segment.state], sgr: ANSI[segment.state] }
}

/**
 * A key's lane as `width` cells, each showing the state at its middle (a stretch shorter than half a cell may
 * not show), with the revoke marked where it happened.
 */
function bar (lane: TimelineLane, timeline: KeyTimeline, width: number, column: (ms: number) => number): Cell[] {
  const span = spanOf(timeline)
  const cells = Array.from({ length: width }, (_, index): Cell => {
    const atMs = timeline.startMs + ((index + 0.5) / width) * span
    const segment = lane.segments.findLast((candidate) => candidate.fromMs <= atMs && atMs < candidate.toMs)
    return segment === undefined ? BLANK : segmentCell(segment)
  })
  if (lane.revokedAtMs !== null) cells[column(lane.revokedAtMs)] = { text: REVOKED_GLYPH, sgr: ANSI_REVOKE }
  return cells
}

/**
 * The axis labels, each starting at its tick's column. Ticks are `CELLS_PER_TICK` cells apart at least (one
 * less for the window's end, drawn in the last cell), more than a label takes, so each ends before the next.
 */
function axisLine (timeline: KeyTimeline, width: number, column: (ms: number) => number): string {
  let line = ''
  for (const tick of axisTicks(timeline, Math.floor(width / CELLS_PER_TICK))) line = line.padEnd(column(tick.atMs)) + tick.label
  return line
}

/**
 * The key lifecycle for a terminal, as lines: the time axis, then a row per key (its short kid, a bar of
 * `width` cells, each in the glyph of the state covering it, and its caption), a `^ now` marker under the
 * bars when the timeline has a now, and a legend. Planned stretches are `┄`, a revoke `✕`. With `colour`,
 * each state is in the nearest basic ANSI colour to the SVG's. The title is the caller's to print.
 *
 * @example
 * const timeline = timelineFromKeys(app.webhooks.status().keys, Date.now())
 * console.log(terminalTimeline(timeline, { width: 60, colour: process.stdout.isTTY }).join('\n'))
 */
export function terminalTimeline (timeline: KeyTimeline, options: TerminalTimelineOptions): string[] {
  const { width, colour } = options
  if (!Number.isInteger(width) || width < MIN_WIDTH) throw new TypeError(`terminalTimeline: width must be a whole number of cells, at least ${MIN_WIDTH}, got ${width}`)
  const span = spanOf(timeline)
  const column = (ms: number): number => Math.min(Math.max(Math.floor(((ms - timeline.startMs) / span) * width), 0), width - 1)
  const labels = timeline.lanes.map((lane) => shortKid(lane.kid))
  // The kid column: as wide as the widest short kid, and wide enough to say the axis is in UTC.
  const indent = Math.max(3, ...labels.map((label) => label.length)) + 2
  const lines = [`${(timeline.axis === 'clock' ? 'UTC' : '').padEnd(indent)}${axisLine(timeline, width, column)}`.trimEnd()]
  timeline.lanes.forEach((lane, index) => {
    lines.push(`${(labels[index] as string).padEnd(indent)}${paint(bar(lane, timeline, width, column), colour)}  ${lane.caption}`)
  })
  if (timeline.nowMs !== null) {
    const at = column(timeline.nowMs)
    // Near the right edge the label goes on the marker's left, so the line stays within the bars.
    const marker = at + 5 <= width ? { at, text: '^ now' } : { at: at - 4, text: 'now ^' }
    lines.push(`${' '.repeat(indent + marker.at)}${paint([{ text: marker.text, sgr: ANSI_NOW }], colour)}`)
  }

  // The states by name only, to fit a terminal's width; the SVG's legend says what each means.
  const legend = (Object.keys(GLYPH) as KeyState[]).map((state) => `${paint([{ text: GLYPH[state], sgr: ANSI[state] }], colour)} ${state}`)
  if (timeline.lanes.some((lane) => lane.segments.some((segment) => segment.planned === true))) legend.push(`${paint([{ text: PLANNED_GLYPH, sgr: '2' }], colour)} planned`)
  if (timeline.lanes.some((lane) => lane.revokedAtMs !== null)) legend.push(`${paint([{ text: REVOKED_GLYPH, sgr: ANSI_REVOKE }], colour)} revoked`)
  lines.push(legend.join('  '))
  return lines
}
