import type { KeyState, KeyStatus } from '@webhook-jwt/producer'

/** One stretch of a key's life: in `state` from `fromMs` to `toMs`. */
export interface TimelineSegment {
  state: KeyState
  fromMs: number
  toMs: number
  /** A stretch the producer has scheduled but that has not happened yet; default `false`. */
  planned?: boolean
}

/** One key's lane. */
export interface TimelineLane {
  kid: string
  /** Drawn under the kid, e.g. `1,234 verified` or `active since 2026-11-20 10:00Z`. */
  caption: string
  /** In time order, each starting where the one before ends. */
  segments: TimelineSegment[]
  /** When the key was revoked, or `null`. */
  revokedAtMs: number | null
  /**
   * Extra `data-*` attributes of the lane in the SVG, for tools and tests that read the picture, e.g.
   * `{ verified: 12 }` for `data-verified="12"`. Names are lower-case words joined by hyphens.
   */
  data?: Readonly<Record<string, string | number>>
}

/** A vertical marker: a switch of the signing key. */
export interface TimelineMarker {
  atMs: number
  /** A switch the producer has scheduled; default `false`. */
  planned?: boolean
}

/** A JWKS fetch by a receiver, drawn on the strip under the lanes. */
export interface TimelineFetch {
  atMs: number
  /** `false` when the fetch failed. */
  ok: boolean
}

/**
 * The key lifecycle picture, neutral of where it came from (a demo run, a producer's status) and of how it is
 * drawn (`timelineSvg`, `terminalTimeline`). Times are in milliseconds: epoch ms for a `clock` axis, or any
 * origin (a demo uses 0 for its start) for an `elapsed` one.
 */
export interface KeyTimeline {
  title: string
  /** The window drawn. */
  startMs: number
  endMs: number
  /** Tick labels as time since `startMs` (`12s`), or as UTC clock times and dates. */
  axis: 'elapsed' | 'clock'
  /** Where to draw a "now" marker, or `null` for none. */
  nowMs: number | null
  lanes: TimelineLane[]
  /** Each switch of the signing key by rotation, done or scheduled. */
  switches: TimelineMarker[]
  /** Each revoke. */
  revokes: number[]
  /** The receiver's JWKS fetches, or `null` for no fetch strip. */
  fetches: TimelineFetch[] | null
}

const MINUTE_MS = 60_000

/**
 * The first eight characters of a kid, enough to tell keys apart on a screen.
 *
 * @example
 * shortKid('kid-a-0000000000') // 'kid-a-00…'
 */
export function shortKid (kid: string): string {
  return `${kid.slice(0, 8)}…`
}

/** `2026-11-20 10:00Z`: a minute is precise enough for a caption, and UTC is what operators compare logs in. */
function captionTime (ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}Z`
}

function counted (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}

interface HistoryStep {
  state: KeyState
  atMs: number
  reason: KeyStatus['transitions'][number]['reason']
}

/** A key and its transitions in time order; never empty. */
interface History {
  key: KeyStatus
  steps: HistoryStep[]
}

const firstStep = (history: History): HistoryStep => history.steps[0] as HistoryStep

/** Everything after `nowMs`, planned: the key's scheduled step, or the one the active key will take at the switch. */
function plannedSegments (history: History, fromMs: number, endMs: number, switchAtMs: number | null): TimelineSegment[] {
  const { key } = history
  const scheduled = key.next === null ? null : { state: key.next.state, atMs: key.next.at.getTime() }
  // The active key has no step of its own scheduled: it starts retiring when the next key starts signing.
  const change = scheduled ?? (key.state === 'active' && switchAtMs !== null ? { state: 'retiring' as const, atMs: switchAtMs } : null)
  if (change === null) return [{ state: key.state, fromMs, toMs: endMs, planned: true }]
  const changeAtMs = Math.max(change.atMs, fromMs)
  return [{ state: key.state, fromMs, toMs: changeAtMs, planned: true }, { state: change.state, fromMs: changeAtMs, toMs: endMs, planned: true }]
}

/** What the key is doing: revoked when, or its state and its scheduled step, or since when it is in it. */
function caption (key: KeyStatus, sinceMs: number, revokedAtMs: number | null): string {
  if (revokedAtMs !== null) return `revoked ${captionTime(revokedAtMs)}`
  return key.next === null ? `${key.state} since ${captionTime(sinceMs)}` : `${key.state} → ${key.next.state} ${captionTime(key.next.at.getTime())}`
}

function laneOf (history: History, nowMs: number, endMs: number, switchAtMs: number | null): TimelineLane {
  const { key, steps } = history
  const last = steps.at(-1) as HistoryStep
  const retired = key.state === 'retired'
  const presentEndMs = retired ? endMs : Math.max(nowMs, last.atMs)
  const segments: TimelineSegment[] = steps.map((step, index) => ({ state: step.state, fromMs: step.atMs, toMs: steps[index + 1]?.atMs ?? presentEndMs }))
  if (!retired) segments.push(...plannedSegments(history, presentEndMs, endMs, switchAtMs))
  const revokedAtMs = steps.find((step) => step.state === 'retired' && step.reason === 'revoke')?.atMs ?? null
  return {
    kid: key.kid,
    caption: caption(key, last.atMs, revokedAtMs),
    // A step taken at the instant of the one before (a next key withdrawn at once) lasts no time: nothing to draw.
    segments: segments.filter((segment) => segment.toMs > segment.fromMs),
    revokedAtMs
  }
}

/**
 * The lifecycle of a producer's keys (as `app.webhooks.status().keys` lists them) on a UTC clock axis: one
 * lane per key with its states from its transitions, and what the producer has scheduled (a next key's switch,
 * a retiring key's retirement, and the active key's retirement at that switch) as planned segments after
 * `nowMs`. The window runs from the earliest transition to a little past `nowMs` or the latest scheduled step,
 * whichever is later. Switch markers are where a key started signing by rotation; revoke markers where one
 * was revoked.
 *
 * @param keys - `app.webhooks.status().keys`, or the same read from a key store
 * @param nowMs - the time of the status, epoch ms
 * @example
 * const timeline = timelineFromKeys(app.webhooks.status().keys, Date.now())
 * writeFileSync('keys.svg', timelineSvg(timeline))
 */
export function timelineFromKeys (keys: readonly KeyStatus[], nowMs: number): KeyTimeline {
  const histories: History[] = keys
    .map((key) => ({ key, steps: key.transitions.map((step) => ({ state: step.state, atMs: step.at.getTime(), reason: step.reason })).sort((a, b) => a.atMs - b.atMs) }))
    // A key the producer reports has the transition that created it; one without any has nothing to draw.
    .filter((history) => history.steps.length > 0)
    .sort((a, b) => firstStep(a).atMs - firstStep(b).atMs)
  const scheduled = keys.flatMap((key) => key.next === null ? [] : [{ state: key.next.state, atMs: key.next.at.getTime() }])
  const startMs = Math.min(nowMs, ...histories.flatMap((history) => history.steps.map((step) => step.atMs)))
  const lastMs = Math.max(nowMs, ...scheduled.map((step) => step.atMs))
  // A tenth of the window past the last event, so the last step is not drawn on the edge.
  const endMs = lastMs + Math.max((lastMs - startMs) / 10, MINUTE_MS)
  const plannedSwitches = scheduled.filter((step) => step.state === 'active').map((step) => step.atMs)
  const switchAtMs = plannedSwitches.length === 0 ? null : Math.min(...plannedSwitches)
  const steps = histories.flatMap((history) => history.steps)
  const rotations = histories.filter((history) => firstStep(history).state === 'next').length
  const revokes = steps.filter((step) => step.state === 'retired' && step.reason === 'revoke').map((step) => step.atMs).sort((a, b) => a - b)
  return {
    title: `Signing key lifecycle: ${counted(histories.length, 'key')}, ${counted(rotations, 'rotation')}${revokes.length === 0 ? '' : `, ${counted(revokes.length, 'revoke')}`}`,
    startMs,
    endMs,
    axis: 'clock',
    nowMs,
    lanes: histories.map((history) => laneOf(history, nowMs, endMs, switchAtMs)),
    switches: [
      ...steps.filter((step) => step.state === 'active' && step.reason === 'rotation').map((step) => ({ atMs: step.atMs })).sort((a, b) => a.atMs - b.atMs),
      ...plannedSwitches.sort((a, b) => a - b).map((atMs) => ({ atMs, planned: true }))
    ],
    revokes,
    fetches: null
  }
}
