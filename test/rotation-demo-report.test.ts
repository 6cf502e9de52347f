import { PassThrough } from 'node:stream'
import t from 'tap'
import { escapeXml, shortKid, STATE_STYLE, timelineSvg as cliTimelineSvg } from '@webhook-jwt/cli'
import { keyLanes, rotationTimelines } from '../examples/rotation-demo/src/key-lanes.ts'
import { DEFAULT_DURATION_SEC, DEFAULT_RATE, DemoUsageError, MIN_DURATION_SEC, parseDemoOptions } from '../examples/rotation-demo/src/options.ts'
import { Progress } from '../examples/rotation-demo/src/progress.ts'
import { reportText } from '../examples/rotation-demo/src/report-text.ts'
import { isFailure, type RunRecord } from '../examples/rotation-demo/src/run-record.ts'
import { runTimeline } from '../examples/rotation-demo/src/run-timeline.ts'
import { tally } from '../examples/rotation-demo/src/tally.ts'
import { timelinePage } from '../examples/rotation-demo/src/timeline-page.ts'
import { delivery, demoRun, GOOD_DELIVERIES, KIDS } from './support/demo-run.ts'

const [A, B, C, D, E] = KIDS
/** The demo's picture: its run as the CLI's key timeline, drawn by the CLI. */
const timelineSvg = (run: RunRecord): string => cliTimelineSvg(runTimeline(run))

t.test('options: defaults, a leading -- dropped, and usage errors that name the option', async (t) => {
  t.same(parseDemoOptions([]), { durationSec: DEFAULT_DURATION_SEC, rate: DEFAULT_RATE, outDir: null })
  t.same(parseDemoOptions(['--', '--duration', '45', '--rate', '10', '--out', 'pictures']), { durationSec: 45, rate: 10, outDir: 'pictures' })
  t.throws(() => parseDemoOptions(['--duration', String(MIN_DURATION_SEC - 1)]), { name: 'DemoUsageError', message: /--duration must be between 28 and 3600/ })
  t.throws(() => parseDemoOptions(['--rate', '0']), { message: /--rate must be above 0/ })
  t.throws(() => parseDemoOptions(['--rate', 'fast']), { message: /--rate .* got fast\nusage: pnpm demo/ })
  t.throws(() => parseDemoOptions(['--speed', '3']), DemoUsageError)
})

t.test('key lanes: one per kid in order of appearance, states in time order, verified counts, the revoke', async (t) => {
  const lanes = keyLanes(demoRun(GOOD_DELIVERIES))
  t.same(lanes.map((lane) => [lane.kid, lane.verified, lane.revokedAt]), [[A, 3, null], [B, 2, null], [C, 2, null], [D, 5, null], [E, 1, 26_000]])
  t.same(lanes[0]?.segments, [{ state: 'active', from: 0, to: 6000 }, { state: 'retiring', from: 6000, to: 10_500 }, { state: 'retired', from: 10_500, to: 30_000 }])
  t.same(lanes[3]?.segments.map((segment) => segment.state), ['next', 'active', 'retiring', 'active'], 'the retiring key signs again after the revoke')
  t.equal(shortKid(A), 'kid-a-00…')
})

t.test('rotation timelines: publish, switch, retire of the old key; an unfinished one says so', async (t) => {
  t.same(rotationTimelines(demoRun([])), [
    { newKid: B, publishedAt: 4500, switchedAt: 6000, oldKid: A, retiredAt: 10_500 },
    { newKid: C, publishedAt: 10_500, switchedAt: 12_000, oldKid: B, retiredAt: 16_500 },
    { newKid: D, publishedAt: 16_500, switchedAt: 18_000, oldKid: C, retiredAt: 22_500 },
    { newKid: E, publishedAt: 22_500, switchedAt: 24_000, oldKid: D, retiredAt: null }
  ])
  const published = demoRun([])
  published.transitions = published.transitions.filter((step) => step.at <= 16_500)
  t.match(rotationTimelines(published).at(-1), { newKid: D, switchedAt: null, oldKid: null, retiredAt: null }, 'published, not switched yet')
  t.match(reportText(published), `#3  ${shortKid(D)} published 16.5s, signs from —\n`, 'the report says so')
  t.equal(timelineSvg(published).match(/class="rotation"/g)?.length, 2, 'and the picture marks only the switches that happened')
  const revokedFirst = demoRun([])
  // The signing key revoked while a successor was published: the successor signs at once, and no key retires through this rotation.
  revokedFirst.transitions = [
    { at: 0, kid: A, from: null, to: 'active', reason: 'bootstrap' }, { at: 4500, kid: B, from: null, to: 'next', reason: 'rotation' },
    { at: 5000, kid: A, from: 'active', to: 'retired', reason: 'revoke' }, { at: 5000, kid: B, from: 'next', to: 'active', reason: 'revoke' }
  ]
  t.same(rotationTimelines(revokedFirst), [{ newKid: B, publishedAt: 4500, switchedAt: 5000, oldKid: null, retiredAt: null }])
  t.match(reportText(revokedFirst), `#1  ${shortKid(B)} published 4.5s, signs from 5.0s\n`)
})

t.test('tally and failures: a legitimate delivery must verify, an attack must get its own code', async (t) => {
  t.same(GOOD_DELIVERIES.filter(isFailure), [])
  const bad = [delivery('legitimate', A, 503, 'WEBHOOK_KEY_UNAVAILABLE', 3), delivery('replayed', A, 200), delivery('tampered', A, 401, 'WEBHOOK_REPLAYED'), delivery('legitimate', A, 0)]
  t.same(bad.filter(isFailure), bad)
  const counts = tally([...GOOD_DELIVERIES, ...bad])
  t.match(counts, { sent: 20, legitimate: 15, verified: 13, retried: 2, attacks: 5, failed: 4 })
  t.same(counts.rejected.map((entry) => [entry.code, [...entry.byIntent]]), [
    ['WEBHOOK_BODY_DIGEST_MISMATCH', [['tampered', 1]]],
    ['WEBHOOK_REPLAYED', [['replayed', 1], ['tampered', 1]]],
    ['WEBHOOK_KEY_UNKNOWN', [['revoked-key', 1]]],
    ['WEBHOOK_KEY_UNAVAILABLE', [['legitimate', 1]]],
    ['HTTP 0', [['legitimate', 1]]]
  ])
})

t.test('the text report of a clean run: deliveries, rejections by reason, keys, rotations, the revoke, PASS', async (t) => {
  const report = reportText(demoRun(GOOD_DELIVERIES))
  t.match(report, 'Deliveries: 16 sent in 30.0s (13 legitimate, 3 attacks)')
  t.match(report, 'verified: 13 of 13 legitimate deliveries (1 after a 503 and a retry)')
  t.match(report, 'rejected WEBHOOK_REPLAYED: 1 (a verified delivery sent again: as it must be)')
  t.match(report, `${shortKid(D)}       5 verified   next 16.5s → active 18.0s → retiring 24.0s → active 26.0s\n`)
  t.match(report, `${shortKid(E)}       1 verified   next 22.5s → active 24.0s → retired 26.0s  (REVOKED)`)
  t.match(report, `#1  ${shortKid(B)} published 4.5s, signs from 6.0s, ${shortKid(A)} retired 10.5s`)
  t.match(report, `#4  ${shortKid(E)} published 22.5s, signs from 24.0s, ${shortKid(D)} not retired: active at the end`)
  t.match(report, `Emergency revoke (scenario): ${shortKid(E)} revoked at 26.0s; the receiver dropped it at 26.5s; 1 of 1 captured tokens refused`)
  t.match(report, /\nPASS: zero failed deliveries/)
  t.notMatch(report, /WRONG|FAIL/)
})

t.test('the text report of a failed run names every wrong answer, and of an empty one says so', async (t) => {
  const run = demoRun([delivery('legitimate', A, 401, 'WEBHOOK_KEY_UNKNOWN'), delivery('replayed', A, 200)])
  run.revoke = null
  const report = reportText(run)
  t.match(report, 'rejected WEBHOOK_KEY_UNKNOWN: 1 (legitimate: WRONG)')
  t.match(report, 'ACCEPTED at 1.0s: a verified delivery sent again (WRONG)')
  t.match(report, /\nFAIL: 2 deliveries did not get the answer they deserved/)
  t.notMatch(report, 'Emergency revoke')
  const empty = demoRun([])
  empty.revoke = { at: 26_000, kid: E, receiverDroppedAt: null }
  t.match(reportText(empty), 'rejected: none')
  t.match(reportText(empty), 'the receiver dropped it at —; 0 of 0 captured tokens refused')
})

t.test('the SVG: a lane per kid with its verified count, each state in its colour, switches, the revoke, fetches, a legend', async (t) => {
  const svg = timelineSvg(demoRun(GOOD_DELIVERIES))
  t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1000" height="\d+"/)
  t.match(svg, 'Signing key lifecycle: 5 keys, 4 rotations, 1 revoke')
  const lanes = [...svg.matchAll(/<g class="lane" data-kid="([^"]+)" data-verified="(\d+)">([\s\S]*?)<\/g>/g)]
  t.same(lanes.map((lane) => [lane[1], Number(lane[2])]), [[A, 3], [B, 2], [C, 2], [D, 5], [E, 1]])
  t.same([...(lanes[1]?.[3] ?? '').matchAll(/data-state="(\w+)"[^>]* fill="([^"]+)"/g)].map((match) => [match[1], match[2]]),
    (['next', 'active', 'retiring', 'retired'] as const).map((state) => [state, STATE_STYLE[state].fill]))
  t.match(lanes[4]?.[3], '✕ revoked')
  t.equal(svg.match(/class="rotation"/g)?.length, 4)
  t.equal(svg.match(/class="revoke"/g)?.length, 1)
  t.equal(svg.match(/class="fetch"/g)?.length, 3, 'fetched and failed fetches; the cooldown made none')
  t.match(svg, 'retired: unpublished, private key destroyed')
  t.notMatch(timelineSvg({ ...demoRun([]), revoke: null }), /class="revoke"|, 1 revoke/)
})

t.test('the SVG scales any run length onto its width, and escapes text', async (t) => {
  const long = { ...demoRun([]), durationMs: 3_600_000 }
  t.match(timelineSvg(long), '>600s<', 'ticks every 5 minutes over an hour')
  t.match(timelineSvg({ ...demoRun([]), durationMs: 100_000_000 }), '>12h<', 'and every 12 hours over a day')
  const notStarted = { ...demoRun([]), durationMs: 0 }
  t.match(timelineSvg(notStarted), '<g class="lane"', 'a zero-length run still draws')
  t.equal(escapeXml('<a href="x">&\'</a>'), '&#60;a href=&#34;x&#34;&#62;&#38;&#39;&#60;/a&#62;')
})

t.test('the HTML page embeds the SVG and the report, and says whether the run passed', async (t) => {
  const run = demoRun(GOOD_DELIVERIES)
  const svg = timelineSvg(run)
  const page = timelinePage(run, svg, reportText(run))
  t.match(page, /^<!doctype html>/)
  t.ok(page.includes(svg), 'the picture, inline')
  t.match(page, '<title>webhook-jwt rotation demo: zero failed deliveries</title>')
  t.match(page, '13 of 13 legitimate deliveries verified')
  t.match(page, 'PASS: zero failed deliveries')
  const failed = demoRun([delivery('legitimate', A, 401, 'WEBHOOK_KEY_UNKNOWN')])
  t.match(timelinePage(failed, timelineSvg(failed), reportText(failed)), '<title>webhook-jwt rotation demo: 1 failed deliveries</title>')
})

function capture (isTTY: boolean): { stream: PassThrough & { isTTY?: boolean }, text: () => string } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough()
  stream.isTTY = isTTY
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  return { stream, text: () => chunks.join('') }
}

t.test('progress on a terminal: a bar redrawn in place under the event lines', async (t) => {
  const { stream, text } = capture(true)
  const progress = new Progress(stream, 1000)
  progress.transition({ at: 0, kid: A, from: null, to: 'active', reason: 'bootstrap' })
  progress.delivery(delivery('legitimate', A, 200))
  progress.delivery(delivery('replayed', A, 401, 'WEBHOOK_REPLAYED'))
  progress.delivery(delivery('legitimate', A, 503, 'WEBHOOK_KEY_UNAVAILABLE', 3))
  await new Promise((resolve) => setTimeout(resolve, 250))
  progress.transition({ at: 0, kid: E, from: 'active', to: 'retired', reason: 'revoke' })
  progress.note('EMERGENCY REVOKE (scenario)')
  progress.stop()
  const output = text()
  t.match(output, /0\.0s {2}key kid-a-00… created → active\n/)
  const eraseLine = '\r\x1b[2K'
  t.match(output, new RegExp(`${eraseLine.replace('[', '\\[')}\\s+\\d\\.\\ds {2}key kid-e-44… active → retired \\(revoke\\)\n`), 'the bar is erased before an event line')
  t.match(output, new RegExp(`${eraseLine.replace('[', '\\[')}\\[█*░*\\] +\\d\\.\\ds {2}sent 3 {2}verified 1 {2}attacks refused 1 {2}failed 1 {2}signing kid-a-00…`))
  t.match(output, /EMERGENCY REVOKE \(scenario\)\n/)
  t.ok(output.endsWith('\n'), 'the last bar is left on its own line')
})

t.test('progress in a pipe: plain lines, counts every few seconds and at the end, no control characters', async (t) => {
  const { stream, text } = capture(false)
  const progress = new Progress(stream, 1000)
  progress.note('starting')
  progress.stop()
  const output = text()
  t.match(output, /^ +0\.0s {2}starting\n +0\.0s {2}sent 0 {2}verified 0 {2}attacks refused 0 {2}failed 0 {2}signing —\n$/)
  t.notMatch(output, '\x1b')
})
