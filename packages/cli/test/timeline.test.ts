import t from 'tap'
import type { KeyState, KeyStatus, TransitionReason } from '@webhook-jwt/producer'
// The timeline modules themselves rather than the package's index, which also loads the commands: this file
// covers the timeline, and only it.
import { shortKid, timelineFromKeys, type KeyTimeline, type TimelineLane } from '../src/timeline/key-timeline.ts'
import { STATE_STYLE } from '../src/timeline/state-style.ts'
import { terminalTimeline } from '../src/timeline/terminal-timeline.ts'
import { escapeXml, timelineSvg } from '../src/timeline/timeline-svg.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const T0 = Date.parse('2026-11-20T10:00:00.000Z')
const [A, B, C] = ['kid-a-0000000000', 'kid-b-1111111111', 'kid-c-2222222222'] as const
/** Hours after T0, in epoch ms. */
const h = (hours: number): number => T0 + hours * HOUR

/** A key as `status().keys` reports it: its transitions at hours after T0, and its scheduled step. */
function key (kid: string, steps: Array<[KeyState, number, TransitionReason]>, next: [KeyState, number] | null = null): KeyStatus {
  return {
    kid,
    alg: 'ES256',
    state: steps.at(-1)?.[0] ?? 'next',
    transitions: steps.map(([state, hours, reason]) => ({ state, at: new Date(h(hours)), reason })),
    next: next === null ? null : { state: next[0], at: new Date(h(next[1])) }
  }
}

const ESC = '\x1b'
const ANSI_ESCAPE = new RegExp(`${ESC}\\[[\\d;]*m`, 'g')
const plain = (text: string): string => text.replace(ANSI_ESCAPE, '')

t.test('timelineFromKeys: a bootstrap-only key signs from its first transition, and on past now as planned', async (t) => {
  const now = h(2)
  t.same(timelineFromKeys([key(A, [['active', 0, 'bootstrap']])], now), {
    title: 'Signing key lifecycle: 1 key, 0 rotations',
    startMs: T0,
    // A tenth of the window past now.
    endMs: now + 12 * MINUTE,
    axis: 'clock',
    nowMs: now,
    lanes: [{
      kid: A,
      caption: 'active since 2026-11-20 10:00Z',
      segments: [{ state: 'active', fromMs: T0, toMs: now }, { state: 'active', fromMs: now, toMs: now + 12 * MINUTE, planned: true }],
      revokedAtMs: null
    }],
    switches: [],
    revokes: [],
    fetches: null
  })

  const fresh = timelineFromKeys([key(A, [['active', 0, 'bootstrap']])], T0)
  t.same(fresh.lanes[0]?.segments, [{ state: 'active', fromMs: T0, toMs: T0 + MINUTE, planned: true }], 'created this instant: nothing has happened yet')
  t.equal(fresh.endMs, T0 + MINUTE, 'a minute of window at least')
  t.match(timelineFromKeys([key(B, [])], T0), { title: 'Signing key lifecycle: 0 keys, 0 rotations', startMs: T0, endMs: T0 + MINUTE, lanes: [] }, 'a key without transitions has nothing to draw')
})

t.test('timelineFromKeys: a rotation done and the next one planned, its switch and the active key\'s retirement', async (t) => {
  const now = h(47.5)
  // Out of order, as a store may list them, and with transitions out of order too.
  const keys = [
    key(B, [['active', 24, 'rotation'], ['next', 23, 'rotation']]),
    key(A, [['active', 0, 'bootstrap'], ['retiring', 24, 'rotation'], ['retired', 25, 'rotation']]),
    key(C, [['next', 47, 'rotation']], ['active', 48])
  ]
  keys[0] = { ...keys[0] as KeyStatus, state: 'active' }
  const timeline = timelineFromKeys(keys, now)
  const endMs = h(48) + 4.8 * HOUR
  t.match(timeline, { title: 'Signing key lifecycle: 3 keys, 2 rotations', startMs: T0, endMs, axis: 'clock', nowMs: now, revokes: [] })
  t.same(timeline.lanes.map((lane) => [lane.kid, lane.caption]), [
    [A, 'retired since 2026-11-21 11:00Z'],
    [B, 'active since 2026-11-21 10:00Z'],
    [C, 'next → active 2026-11-22 10:00Z']
  ])
  t.same(timeline.lanes[0]?.segments, [
    { state: 'active', fromMs: T0, toMs: h(24) }, { state: 'retiring', fromMs: h(24), toMs: h(25) }, { state: 'retired', fromMs: h(25), toMs: endMs }
  ], 'a retired key stays retired to the end of the window, as what happened')
  t.same(timeline.lanes[1]?.segments, [
    { state: 'next', fromMs: h(23), toMs: h(24) }, { state: 'active', fromMs: h(24), toMs: now },
    { state: 'active', fromMs: now, toMs: h(48), planned: true }, { state: 'retiring', fromMs: h(48), toMs: endMs, planned: true }
  ], 'the active key starts retiring at the planned switch')
  t.same(timeline.lanes[2]?.segments, [
    { state: 'next', fromMs: h(47), toMs: now }, { state: 'next', fromMs: now, toMs: h(48), planned: true }, { state: 'active', fromMs: h(48), toMs: endMs, planned: true }
  ])
  t.same(timeline.switches, [{ atMs: h(24) }, { atMs: h(48), planned: true }])

  const overdue = timelineFromKeys(keys, h(49))
  t.same(overdue.lanes[2]?.segments, [{ state: 'next', fromMs: h(47), toMs: h(49) }, { state: 'active', fromMs: h(49), toMs: overdue.endMs, planned: true }],
    'a step overdue at now is planned from now')
})

t.test('timelineFromKeys: a rollback is not a switch; the rolled-back key retires as scheduled', async (t) => {
  const keys = [
    key(A, [['active', 0, 'bootstrap'], ['retiring', 2, 'rotation'], ['active', 3, 'rollback']]),
    key(B, [['next', 1, 'rotation'], ['active', 2, 'rotation'], ['retiring', 3, 'rollback']], ['retired', 4]),
    // Rolled back before its switch: withdrawn the instant it was published, so it never was next for any time.
    key(C, [['next', 3.25, 'rotation'], ['retired', 3.25, 'rollback']])
  ]
  const timeline = timelineFromKeys(keys, h(3.5))
  const endMs = h(4.4)
  t.match(timeline, { title: 'Signing key lifecycle: 3 keys, 2 rotations', endMs, switches: [{ atMs: h(2) }] })
  t.equal(timeline.switches.length, 1)
  t.same(timeline.lanes.map((lane) => lane.segments.map((segment) => [segment.state, (segment.fromMs - T0) / HOUR, (segment.toMs - T0) / HOUR, segment.planned ?? false])), [
    [['active', 0, 2, false], ['retiring', 2, 3, false], ['active', 3, 3.5, false], ['active', 3.5, 4.4, true]],
    [['next', 1, 2, false], ['active', 2, 3, false], ['retiring', 3, 3.5, false], ['retiring', 3.5, 4, true], ['retired', 4, 4.4, true]],
    [['retired', 3.25, 4.4, false]]
  ])
  t.same(timeline.lanes.map((lane) => lane.caption), ['active since 2026-11-20 13:00Z', 'retiring → retired 2026-11-20 14:00Z', 'retired since 2026-11-20 13:15Z'])
})

t.test('timelineFromKeys: revokes are marked on their lanes and as markers; the replacement signing is no switch', async (t) => {
  const keys = [
    key(A, [['active', 0, 'bootstrap'], ['retired', 1.5, 'revoke']]),
    key(B, [['next', 1, 'rotation'], ['active', 1.5, 'revoke'], ['retired', 2.5, 'revoke']]),
    key(C, [['active', 2.5, 'revoke']])
  ]
  const timeline = timelineFromKeys(keys, h(3))
  t.match(timeline, { title: 'Signing key lifecycle: 3 keys, 1 rotation, 2 revokes', switches: [], revokes: [h(1.5), h(2.5)] })
  t.same(timeline.lanes.map((lane) => [lane.caption, lane.revokedAtMs]), [
    ['revoked 2026-11-20 11:30Z', h(1.5)], ['revoked 2026-11-20 12:30Z', h(2.5)], ['active since 2026-11-20 12:30Z', null]
  ])
  t.match(timelineFromKeys(keys.slice(0, 1), h(3)).title, /1 key, 0 rotations, 1 revoke$/)
})

t.test('timelineFromKeys and both pictures on a clock axis over days: dates at midnight, UTC', async (t) => {
  // A key a week: three keys, the third signing since day 14, the status read on day 20.
  const day = (days: number): number => days * 24
  const keys = [
    key(A, [['active', 0, 'bootstrap'], ['retiring', day(7), 'rotation'], ['retired', day(8), 'rotation']]),
    key(B, [['next', day(6.9), 'rotation'], ['active', day(7), 'rotation'], ['retiring', day(14), 'rotation'], ['retired', day(15), 'rotation']]),
    key(C, [['next', day(13.9), 'rotation'], ['active', day(14), 'rotation']])
  ]
  const timeline = timelineFromKeys(keys, h(day(20)))
  t.match(timeline, { startMs: T0, endMs: h(day(22)), nowMs: h(day(20)) })

  const svg = timelineSvg(timeline)
  t.match(svg, '<text x="16" y="48" fill="#555555">UTC</text>')
  const ticks = [...svg.matchAll(/text-anchor="middle" fill="#555555">([^<]+)</g)].map((match) => match[1])
  t.same(ticks, ['Nov 21', 'Nov 23', 'Nov 25', 'Nov 27', 'Nov 29', 'Dec 1', 'Dec 3', 'Dec 5', 'Dec 7', 'Dec 9', 'Dec 11'], 'a tick every other day')
  t.match(svg, `<title>${shortKid(C)} active 2026-12-04 10:00:00Z–2026-12-10 10:00:00Z</title>`, 'tooltips in clock time')
  t.match(svg, `<title>${shortKid(C)} active 2026-12-10 10:00:00Z–2026-12-12 10:00:00Z (planned)</title>`)

  const lines = terminalTimeline(timeline, { width: 66, colour: false })
  t.equal(lines[0], `UTC        ${' '.repeat(16)}Nov 26${' '.repeat(15)}Dec 3${' '.repeat(16)}Dec 10`, 'a tick a week, on a date')
  t.equal((lines[3] ?? '').slice(11, 77).trimStart().length, 66 - 42, 'the third key published on day 13.9, from the 43rd of 66 cells')
})

/** A timeline with every part: a lane with data, planned stretches, a switch done and one planned, a revoke, now, fetches. */
function fullTimeline (): KeyTimeline {
  const lanes: TimelineLane[] = [
    { kid: A, caption: '3 verified', segments: [{ state: 'active', fromMs: 0, toMs: 6000 }, { state: 'retiring', fromMs: 6000, toMs: 10_000 }, { state: 'retired', fromMs: 10_000, toMs: 20_000 }], revokedAtMs: null, data: { verified: 3 } },
    { kid: B, caption: '2 verified', segments: [{ state: 'next', fromMs: 4000, toMs: 6000 }, { state: 'active', fromMs: 6000, toMs: 12_000 }, { state: 'retired', fromMs: 12_000, toMs: 20_000 }], revokedAtMs: 12_000, data: { verified: 2 } },
    { kid: C, caption: 'planned', segments: [{ state: 'next', fromMs: 11_000, toMs: 12_000 }, { state: 'active', fromMs: 12_000, toMs: 15_000 }, { state: 'active', fromMs: 15_000, toMs: 20_000, planned: true }], revokedAtMs: null }
  ]
  return {
    title: 'Signing key lifecycle: 3 keys',
    startMs: 0,
    endMs: 20_000,
    axis: 'elapsed',
    nowMs: 15_000,
    lanes,
    switches: [{ atMs: 6000 }, { atMs: 18_000, planned: true }],
    revokes: [12_000],
    fetches: [{ atMs: 0, ok: true }, { atMs: 9000, ok: false }]
  }
}

t.test('timelineSvg: a lane per kid with its data, each state in its colour, planned stretches lighter, the markers, now, fetches', async (t) => {
  const svg = timelineSvg(fullTimeline())
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1000" height="\d+"/)
  const lanes = [...svg.matchAll(/<g class="lane" data-kid="([^"]+)"([^>]*)>([\s\S]*?)<\/g>/g)]
  t.same(lanes.map((lane) => [lane[1], lane[2]]), [[A, ' data-verified="3"'], [B, ' data-verified="2"'], [C, '']])
  t.same([...(lanes[0]?.[3] ?? '').matchAll(/<rect class="state" data-state="(\w+)"[^>]* fill="([^"]+)">/g)].map((match) => [match[1], match[2]]),
    (['active', 'retiring', 'retired'] as const).map((state) => [state, STATE_STYLE[state].fill]))
  t.match(lanes[1]?.[3], '✕ revoked')
  const planned = [...svg.matchAll(/<rect class="state planned" data-state="(\w+)"[^>]* fill="([^"]+)" fill-opacity="0.35" stroke="([^"]+)" stroke-dasharray="4 3">/g)]
  t.same(planned.map((match) => [match[1], match[2], match[3]]), [['active', STATE_STYLE.active.fill, STATE_STYLE.active.fill]], 'a planned stretch: lighter, its edge dashed')
  t.match(svg, `<title>${shortKid(C)} active 15.0s–20.0s (planned)</title>`)
  t.equal(svg.match(/class="rotation"/g)?.length, 1)
  t.equal(svg.match(/class="rotation planned"/g)?.length, 1)
  t.match(svg, '>switch #1</text>')
  t.match(svg, '>switch (planned)</text>')
  t.equal(svg.match(/class="revoke"/g)?.length, 1)
  t.equal(svg.match(/<line class="now"/g)?.length, 1)
  t.same([...svg.matchAll(/<line class="fetch"[^>]* stroke="([^"]+)"/g)].map((match) => match[1]), ['#555555', '#cb181d'], 'a failed fetch in red')
  t.match(svg, 'receiver JWKS fetches')
  t.match(svg, /<rect x="16" y="(\d+)" width="14" height="14" fill="#969696" fill-opacity="0.35"[^>]*\/>\n<text[^>]*>planned: scheduled, not happened yet</, 'the planned legend entry')
  t.notMatch(svg, 'UTC', 'an elapsed axis')
  t.same([...svg.matchAll(/text-anchor="middle" fill="#555555">([^<]+)</g)].map((match) => match[1]), ['0s', '2s', '4s', '6s', '8s', '10s', '12s', '14s', '16s', '18s', '20s'])
})

t.test('timelineSvg: no fetch strip without fetches, no now line without now, a single legend row without planned stretches', async (t) => {
  const full = fullTimeline()
  const bare: KeyTimeline = { ...full, nowMs: null, fetches: null, switches: [], revokes: [], lanes: full.lanes.slice(0, 1) }
  const svg = timelineSvg(bare)
  t.notMatch(svg, /class="fetch"|receiver JWKS fetches|class="now"|class="rotation|class="revoke"|planned/)
  t.same([...svg.matchAll(/<rect x="[\d.]+" y="(\d+)" width="14"/g)].map((match) => match[1]), ['162', '162', '162', '162'], 'four legend entries on one row')
  t.match(svg, 'height="198"')
  t.match(timelineSvg({ ...bare, fetches: [] }), 'height="222"', 'the fetch strip takes its room even without fetches')
  const legendRows = new Set([...timelineSvg(full).matchAll(/<rect x="[\d.]+" y="(\d+)" width="14"/g)].map((match) => match[1]))
  t.equal(legendRows.size, 2, 'the planned entry wraps onto a second legend row')
})

t.test('timelineSvg: escapes text, widens the kid column for long captions, keeps marker labels inside the picture', async (t) => {
  const base = fullTimeline()
  const lane: TimelineLane = { kid: '<kid&"1">', caption: 'a < b & "c"', segments: [{ state: 'active', fromMs: 0, toMs: 20_000 }], revokedAtMs: 20_000, data: { 'key-note': '"x" & <y>' } }
  const svg = timelineSvg({ ...base, title: 'Keys <of> "prod"', lanes: [lane], switches: [{ atMs: 20_000 }], revokes: [20_000], nowMs: 20_000 })
  t.match(svg, '>Keys &#60;of&#62; &#34;prod&#34;</text>')
  t.match(svg, '<g class="lane" data-kid="&#60;kid&#38;&#34;1&#34;&#62;" data-key-note="&#34;x&#34; &#38; &#60;y&#62;">')
  t.match(svg, '>a &#60; b &#38; &#34;c&#34;</text>')
  t.match(svg, '>&#60;kid&#38;&#34;1&#34;…</text>', 'the short kid, escaped')
  t.equal(escapeXml('<a href="x">&\'</a>'), '&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;')
  t.same([...svg.matchAll(/text-anchor="end"[^>]*>([^<]+)</g)].map((match) => match[1]), ['✕ revoked', 'switch #1', 'revoke'], 'labels at the right edge go left of their lines')
  t.match(svg, '<text x="979" y="62" font-size="11" fill="#6a51a3" font-weight="700">now</text>', 'a short one that fits stays on the right')

  const long = timelineSvg({ ...base, lanes: [{ ...lane, caption: 'retiring → retired 2026-11-22 10:00Z', data: {} }] })
  t.match(long, '<rect class="state" data-state="active" x="256" ', 'the lanes start right of the longest caption')
  t.throws(() => timelineSvg({ ...base, lanes: [{ ...lane, data: { Verified: 1 } }] }), { name: 'TypeError', message: /data names must be lower-case words joined by hyphens, got "Verified"/ })
})

t.test('timelineSvg: ticks on round steps from seconds to years, in the unit of the step', async (t) => {
  const labels = (timeline: KeyTimeline): string[] => [...timelineSvg(timeline).matchAll(/text-anchor="middle" fill="#555555">([^<]+)</g)].map((match) => match[1] as string)
  const elapsed = (spanMs: number): KeyTimeline => ({ ...fullTimeline(), endMs: spanMs, lanes: [] })
  t.same(labels(elapsed(HOUR)).slice(0, 3), ['0s', '300s', '600s'])
  t.same(labels(elapsed(DAY)).slice(0, 3), ['0h', '2h', '4h'])
  t.same(labels(elapsed(30 * DAY)).slice(0, 3), ['0d', '7d', '14d'])
  t.same(labels(elapsed(730 * DAY)).slice(0, 3), ['0d', '61d', '122d'], 'past the longest step, a multiple of a day')
  t.same(labels({ ...fullTimeline(), endMs: 0 }), ['0s'], 'a window of no length still draws')

  const clock = (startMs: number, endMs: number): KeyTimeline => ({ ...fullTimeline(), axis: 'clock', startMs, endMs, nowMs: null, lanes: [], fetches: null })
  const evening = Date.parse('2026-11-20T20:00:00Z')
  t.same(labels(clock(evening, evening + 8 * HOUR)), ['20:00', '21:00', '22:00', '23:00', 'Nov 21', '01:00', '02:00', '03:00', '04:00'], 'midnight as the date')
  t.same(labels(clock(evening + 5000, evening + 2 * MINUTE)).slice(0, 3), ['20:00:10', '20:00:20', '20:00:30'], 'seconds under a minute a step, from the first round time')
})

t.test('terminalTimeline: a row per kid, a cell per slice of time in the glyph of its state, then the caption', async (t) => {
  const timeline: KeyTimeline = { ...fullTimeline(), nowMs: null, lanes: fullTimeline().lanes.slice(0, 2).map((lane) => ({ ...lane, revokedAtMs: null })) }
  t.same(terminalTimeline(timeline, { width: 20, colour: false }), [
    '           0s        10s      20s',
    `kid-a-00…  ${'█'.repeat(6)}${'▒'.repeat(4)}${'·'.repeat(10)}  3 verified`,
    `kid-b-11…      ${'░'.repeat(2)}${'█'.repeat(6)}${'·'.repeat(8)}  2 verified`,
    '░ next  █ active  ▒ retiring  · retired'
  ])
  const wide = terminalTimeline(timeline, { width: 40, colour: false })
  t.same(wide.slice(1, 3).map((line) => line.slice(11, 51)), [`${'█'.repeat(12)}${'▒'.repeat(8)}${'·'.repeat(20)}`, `${' '.repeat(8)}${'░'.repeat(4)}${'█'.repeat(12)}${'·'.repeat(16)}`], 'forty cells')
  t.equal(wide[0], '           0s        5s        10s       15s      20s', 'the end of the window in the last cell')
  for (const width of [9, 12.5, Number.NaN]) {
    t.throws(() => terminalTimeline(timeline, { width, colour: false }), { name: 'TypeError', message: `terminalTimeline: width must be a whole number of cells, at least 10, got ${width}` })
  }
})

t.test('terminalTimeline: planned cells, the revoke, a now marker under the bars, and a legend of what is shown', async (t) => {
  const lines = terminalTimeline(fullTimeline(), { width: 20, colour: false })
  t.equal(lines[2], `kid-b-11…      ${'░'.repeat(2)}${'█'.repeat(6)}✕${'·'.repeat(7)}  2 verified`, 'the revoke where it happened')
  t.equal(lines[3], `kid-c-22…             ░███${'┄'.repeat(5)}  planned`, 'planned from now on')
  t.equal(lines[4], `${' '.repeat(11 + 15)}^ now`)
  t.equal(lines[5], '░ next  █ active  ▒ retiring  · retired  ┄ planned  ✕ revoked')
  t.equal(terminalTimeline({ ...fullTimeline(), nowMs: 19_500 }, { width: 20, colour: false })[4], `${' '.repeat(11 + 15)}now ^`, 'at the right edge, the label on the left')
  t.equal(terminalTimeline({ ...fullTimeline(), axis: 'clock', startMs: 0, endMs: 20_000 }, { width: 20, colour: false })[0], 'UTC        Jan 1     00:00:10 00:00:20')
})

t.test('terminalTimeline in colour: each run of a state in its ANSI colour, planned dimmed, the same text without the escapes', async (t) => {
  const plainLines = terminalTimeline(fullTimeline(), { width: 20, colour: false })
  const lines = terminalTimeline(fullTimeline(), { width: 20, colour: true })
  t.same(lines.map(plain), plainLines)
  t.equal(lines[1], `kid-a-00…  ${ESC}[32m${'█'.repeat(6)}${ESC}[0m${ESC}[33m${'▒'.repeat(4)}${ESC}[0m${ESC}[90m${'·'.repeat(10)}${ESC}[0m  3 verified`)
  t.equal(lines[3], `kid-c-22…             ${ESC}[34m░${ESC}[0m${ESC}[32m███${ESC}[0m${ESC}[2;32m${'┄'.repeat(5)}${ESC}[0m  planned`, 'blank cells uncoloured')
  t.match(lines[2], `${ESC}[31m✕${ESC}[0m`)
  t.equal(lines[4], `${' '.repeat(26)}${ESC}[35m^ now${ESC}[0m`)
  t.match(lines[5], `${ESC}[2m┄${ESC}[0m planned`)
  t.notMatch(lines[0], ESC, 'the axis uncoloured')
})
