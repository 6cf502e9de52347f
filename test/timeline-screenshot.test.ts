import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { PNG } from 'pngjs'
import { timelineSvg } from '@webhook-jwt/cli'
import { reportText } from '../examples/rotation-demo/src/report-text.ts'
import { timelinePage } from '../examples/rotation-demo/src/timeline-page.ts'
import { runTimeline } from '../examples/rotation-demo/src/run-timeline.ts'
import { demoRun, GOOD_DELIVERIES } from './support/demo-run.ts'

// The timeline picture as a browser shows it: headless Chromium (Debian's `chromium` package) takes a
// screenshot of the SVG and of the HTML page, and every key's lane must be on it, each state in its colour
// where the SVG puts it. Without Chromium this is skipped, loudly; WEBHOOK_JWT_REQUIRE_CHROMIUM=1 (set by
// .ci/run when Chromium is installed) makes it mandatory.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const REQUIRED = process.env.WEBHOOK_JWT_REQUIRE_CHROMIUM === '1'
// Without the networking flags, Chromium's background connections are refused by a closed network, slowly.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--force-device-scale-factor=1']

interface Segment { state: string, x: number, y: number, width: number, fill: [number, number, number] }

function segmentsOf (svg: string): Segment[] {
  return [...svg.matchAll(/<rect class="state" data-state="(\w+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="[\d.]+" fill="#(\w{6})">/g)]
    .map(([, state, x, y, width, hex]) => ({ state: state as string, x: Number(x), y: Number(y), width: Number(width), fill: [0, 2, 4].map((at) => parseInt((hex as string).slice(at, at + 2), 16)) as [number, number, number] }))
}

async function screenshot (t: Test, url: URL, width: number, height: number): Promise<PNG> {
  const folder = mkdtempSync(join(tmpdir(), 'webhook-jwt-chromium-'))
  const file = join(folder, 'screenshot.png')
  const child = spawn(CHROMIUM, [...CHROMIUM_FLAGS, `--user-data-dir=${join(folder, 'profile')}`, `--window-size=${width},${height}`, `--screenshot=${file}`, url.href], { stdio: 'ignore' })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  t.equal(code, 0, `chromium took a screenshot of ${url.pathname}`)
  return PNG.sync.read(readFileSync(file))
}

function pixel (png: PNG, x: number, y: number): [number, number, number] {
  const at = (Math.round(y) * png.width + Math.round(x)) * 4
  return [png.data[at] as number, png.data[at + 1] as number, png.data[at + 2] as number]
}

const close = (a: readonly number[], b: readonly number[]): boolean => a.every((value, index) => Math.abs(value - (b[index] as number)) <= 6)

/** Each segment wide enough to sample shows its state's colour, near its top (below it may be a label). */
function checkSegments (t: Test, png: PNG, segments: Segment[], offset: { x: number, y: number }): void {
  const sampled = segments.filter((segment) => segment.width >= 4)
  const wrong = sampled.filter((segment) => !close(pixel(png, offset.x + segment.x + segment.width / 2, offset.y + segment.y + 4), segment.fill))
  t.same(wrong, [], `${sampled.length} segments, each in its colour`)
  t.same(new Set(sampled.map((segment) => segment.state)), new Set(['next', 'active', 'retiring', 'retired']), 'all four states shown')
}

t.test('headless Chromium shows every key lane of the SVG and of the HTML page, each state in its colour', async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (REQUIRED) t.fail(`WEBHOOK_JWT_REQUIRE_CHROMIUM=1 but there is no Chromium at ${CHROMIUM}`)
    else {
      process.stderr.write(`\n*** SKIPPED: timeline screenshot test: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH) ***\n\n`)
      t.skip(`no Chromium at ${CHROMIUM}: the timeline screenshot check did not run`, () => {})
    }
    return
  }
  const run = demoRun(GOOD_DELIVERIES)
  const svg = timelineSvg(runTimeline(run))
  const folder = mkdtempSync(join(tmpdir(), 'webhook-jwt-timeline-'))
  writeFileSync(join(folder, 'timeline.svg'), svg)
  writeFileSync(join(folder, 'timeline.html'), timelinePage(run, svg, reportText(run)))
  const segments = segmentsOf(svg)
  const lanes = new Set(segments.map((segment) => segment.y))
  t.equal(lanes.size, 5, 'five lanes drawn')
  const [width, height] = [Number(/width="(\d+)"/.exec(svg)?.[1]), Number(/height="(\d+)"/.exec(svg)?.[1])]

  const picture = await screenshot(t, pathToFileURL(join(folder, 'timeline.svg')), width, height)
  t.same([picture.width, picture.height], [width, height])
  checkSegments(t, picture, segments, { x: 0, y: 0 })

  // On the page the picture sits somewhere below the heading: find it by its first lane's first segment, the
  // first block of that colour from the top (the verdict above it is text of the same green).
  const page = await screenshot(t, pathToFileURL(join(folder, 'timeline.html')), width + 100, height + 600)
  const first = segments[0] as Segment
  const isBlock = (x: number, y: number): boolean => x + 30 < page.width && y + 20 < page.height &&
    [[0, 0], [30, 0], [0, 20], [30, 20], [15, 10]].every(([dx, dy]) => close(pixel(page, x + (dx as number), y + (dy as number)), first.fill))
  let found: { x: number, y: number } | null = null
  for (let y = 0; y < page.height && found === null; y++) {
    for (let x = 0; x < page.width; x++) {
      if (isBlock(x, y)) {
        found = { x: x - first.x, y: y - first.y }
        break
      }
    }
  }
  t.ok(found !== null && found.y > 0, `the picture is on the page, below its heading (at ${JSON.stringify(found)})`)
  checkSegments(t, page, segments, found ?? { x: 0, y: 0 })
})
