import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

// The demo as a user runs it: a child process with real HTTP on loopback and a real clock, on its
// shortest duration. Its report, exit code and pictures are what is checked.
const MAIN = new URL('../examples/rotation-demo/src/main.ts', import.meta.url).pathname

async function runDemo (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@webhook-jwt/source', '--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

t.test('the demo: three rotations and a revoke under traffic, zero failed deliveries, a report and the pictures', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'webhook-jwt-demo-test-'))
  const { code, stdout, stderr } = await runDemo(['--', '--duration', '28', '--rate', '25', '--out', out])
  t.equal(code, 0, stderr)
  t.match(stdout, /^Rotation demo: 28 s at 25 deliveries\/s; keys in .*signing-keys\.json\n/)
  t.notMatch(stdout, '\x1b', 'no terminal codes in a pipe')
  t.match(stdout, /EMERGENCY REVOKE \(scenario\): key [\w-]{43} is declared compromised/)
  const report = stdout.slice(stdout.indexOf('\nDeliveries: '))
  const verified = /verified: (\d+) of (\d+) legitimate deliveries/.exec(report)
  t.ok(verified !== null && verified[1] === verified[2] && Number(verified[1]) >= 600, `every legitimate delivery verified: ${verified?.[0]}`)
  t.match(report, /rejected WEBHOOK_BODY_DIGEST_MISMATCH: \d+ \(body altered after signing: as it must be\)/)
  t.match(report, /rejected WEBHOOK_REPLAYED: \d+ \(a verified delivery sent again: as it must be\)/)
  t.match(report, /rejected WEBHOOK_KEY_UNKNOWN: 3 \(captured token under the revoked key: as it must be\)/)
  t.match(report, /; 3 of 3 captured tokens refused/)
  t.notMatch(report, /WRONG|FAIL/)
  t.match(report, /\nPASS: zero failed deliveries/)
  const rotations = [...report.matchAll(/ {2}#(\d+) {2}\S+ published [\d.]+s, signs from [\d.]+s, \S+ (retired [\d.]+s|not retired)/g)]
  t.ok(rotations.filter((rotation) => rotation[2]?.startsWith('retired')).length >= 3, 'at least three rotations completed, each timed')

  const perKid = new Map([...report.matchAll(/^ {2}(\S+…) +(\d+) verified {3}/gm)].map((match) => [match[1], Number(match[2])]))
  t.ok(perKid.size >= 5, `${perKid.size} keys`)
  t.equal([...perKid.values()].reduce((sum, count) => sum + count, 0), Number(verified?.[1]), 'per-key counts add up')

  const svgPath = join(out, 'rotation-timeline.svg')
  t.match(stdout, `Timeline picture: ${svgPath}`)
  const svg = readFileSync(svgPath, 'utf8')
  const lanes = [...svg.matchAll(/<g class="lane" data-kid="([\w-]{43})" data-verified="(\d+)">/g)]
  t.same(new Map(lanes.map((lane) => [`${lane[1]?.slice(0, 8)}…`, Number(lane[2])])), perKid, 'a lane per kid, with its count')
  t.ok(readFileSync(join(out, 'rotation-timeline.html'), 'utf8').includes(svg), 'the page embeds the picture')
})

t.test('the demo refuses a duration too short for three rotations, with its usage', async (t) => {
  const { code, stderr } = await runDemo(['--duration', '10'])
  t.equal(code, 2)
  t.match(stderr, /--duration must be between 28 and 3600 seconds, got 10\nusage: pnpm demo/)
})
