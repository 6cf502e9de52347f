// The live rotation demo (`pnpm demo`): a producer and a consumer on loopback, on the embedded defaults (a
// file key store in a temporary folder, the in-memory replay store), with traffic, scheduled rotations and
// an emergency revoke. It prints a report, writes the key lifecycle as an SVG and an HTML page, and exits
// non-zero if any legitimate delivery failed or any attack got through.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { timelineSvg } from '@webhook-jwt/cli'
import { DemoUsageError, parseDemoOptions } from './options.ts'
import { Progress } from './progress.ts'
import { reportText } from './report-text.ts'
import { runTimeline } from './run-timeline.ts'
import { runScenario, WINDOWS } from './scenario.ts'
import { tally } from './tally.ts'
import { timelinePage } from './timeline-page.ts'

let options
try {
  options = parseDemoOptions(process.argv.slice(2))
} catch (error) {
  if (!(error instanceof DemoUsageError)) throw error
  console.error(error.message)
  process.exit(2)
}

const workDir = mkdtempSync(join(tmpdir(), 'webhook-jwt-demo-'))
const outDir = options.outDir === null ? workDir : resolve(options.outDir)
mkdirSync(outDir, { recursive: true })
const keyFile = join(workDir, 'signing-keys.json')
console.log(`Rotation demo: ${options.durationSec} s at ${options.rate} deliveries/s; keys in ${keyFile}`)
console.log(`Windows: JWKS max-age ${WINDOWS.jwks.maxAge} s, token lifetime ${WINDOWS.tokenTtl} s, clock skew ${WINDOWS.clockSkew} s, a key signs for ${WINDOWS.rotation.every} s\n`)

const progress = new Progress(process.stdout, options.durationSec * 1000)
const run = await runScenario({ durationSec: options.durationSec, rate: options.rate, keyFile }, progress)
progress.stop()

const report = reportText(run)
const svg = timelineSvg(runTimeline(run))
const svgPath = join(outDir, 'rotation-timeline.svg')
const pagePath = join(outDir, 'rotation-timeline.html')
writeFileSync(svgPath, svg)
writeFileSync(pagePath, timelinePage(run, svg, report))
console.log(`\n${report}\n\nTimeline picture: ${svgPath}\nTimeline page:    ${pagePath}`)
process.exitCode = tally(run.deliveries).failed === 0 ? 0 : 1
