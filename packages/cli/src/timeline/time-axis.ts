import type { KeyTimeline } from './key-timeline.ts'

// The time axis both pictures share: where the ticks go and how times read.

const SECOND_MS = 1000
const MINUTE_MS = 60 * SECOND_MS
const HOUR_MS = 60 * MINUTE_MS
const DAY_MS = 24 * HOUR_MS
/** Round steps, from a demo's seconds to a key store's weeks; longer windows take a multiple of a day. */
const STEPS_MS = [
  SECOND_MS, 2 * SECOND_MS, 5 * SECOND_MS, 10 * SECOND_MS, 30 * SECOND_MS, MINUTE_MS, 5 * MINUTE_MS, 10 * MINUTE_MS, 30 * MINUTE_MS,
  HOUR_MS, 2 * HOUR_MS, 6 * HOUR_MS, 12 * HOUR_MS, DAY_MS, 2 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS, 28 * DAY_MS
]
const DATE_LABEL = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' })

export interface AxisTick {
  atMs: number
  label: string
}

/** The window's length, at least 1 ms so that a window of no length still scales. */
export function spanOf (timeline: KeyTimeline): number {
  return Math.max(timeline.endMs - timeline.startMs, 1)
}

function stepFor (spanMs: number, maxTicks: number): number {
  return STEPS_MS.find((step) => spanMs / step <= maxTicks) ?? Math.ceil(spanMs / maxTicks / DAY_MS) * DAY_MS
}

/** Time since the start in the step's unit: `12s`, `6h`, `14d`. */
function elapsedLabel (elapsedMs: number, stepMs: number): string {
  if (stepMs < HOUR_MS) return `${elapsedMs / SECOND_MS}s`
  return stepMs < DAY_MS ? `${elapsedMs / HOUR_MS}h` : `${elapsedMs / DAY_MS}d`
}

/** A UTC time of day (`14:00`, `14:00:30` for steps under a minute), or the date (`Nov 20`) at midnight. */
function clockLabel (atMs: number, stepMs: number): string {
  if (atMs % DAY_MS === 0) return DATE_LABEL.format(atMs)
  return new Date(atMs).toISOString().slice(11, stepMs < MINUTE_MS ? 19 : 16)
}

/**
 * At most `maxTicks` ticks a round step apart: from the start on an elapsed axis, on round UTC times on a
 * clock axis.
 */
export function axisTicks (timeline: KeyTimeline, maxTicks: number): AxisTick[] {
  const span = spanOf(timeline)
  const step = stepFor(span, maxTicks)
  const elapsed = timeline.axis === 'elapsed'
  const ticks: AxisTick[] = []
  for (let at = elapsed ? timeline.startMs : Math.ceil(timeline.startMs / step) * step; at <= timeline.startMs + span; at += step) {
    ticks.push({ atMs: at, label: elapsed ? elapsedLabel(at - timeline.startMs, step) : clockLabel(at, step) })
  }
  return ticks
}

/** A moment for a tooltip: `12.5s` since the start, or `2026-11-20 10:00:00Z`. */
export function momentText (timeline: KeyTimeline, atMs: number): string {
  return timeline.axis === 'elapsed'
    ? `${((atMs - timeline.startMs) / SECOND_MS).toFixed(1)}s`
    : `${new Date(atMs).toISOString().slice(0, 19).replace('T', ' ')}Z`
}
