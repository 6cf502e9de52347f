import { ALGORITHMS } from '../harness/bench-options.ts'
import { RECEIVERS } from '../sections/receiving.ts'
import { cpuFloorMicros, findReceiver, receivingFailures, type BenchResults } from './bench-results.ts'
import { micros, ratio, whole } from './number-format.ts'
import { formatTable, resultRows } from './results-table.ts'
import { BURST, deliveryLabel } from '../sections/sending.ts'
import { checkTargets, verdict } from './targets.ts'

function table (header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (value: string): string => value.replace(/\|/g, '\\|')
  return [`| ${header.map(cell).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n')
}

function header (results: BenchResults): string {
  const { machine, settings } = results
  const receiving = settings.receiving
  const modeLine = settings.mode === 'short'
    ? `short (\`--short\`): ${receiving.runs} × ${receiving.runSec} s per contender after a ${receiving.warmupSec} s warm-up; memory runs of ${whole(settings.memoryRequests)} requests each, **not one million**`
    : `full: ${receiving.runs} × ${receiving.runSec} s per contender after a ${receiving.warmupSec} s warm-up, median reported; memory runs of ${whole(settings.memoryRequests)} requests each`
  const [b1, b5, b15] = results.loadBefore
  const [a1, a5, a15] = results.loadAfter
  return [
    '# webhook-jwt benchmark results',
    '',
    `Written by \`pnpm bench${settings.mode === 'short' ? ' --short' : ''}\` (\`bench/run.ts\`). Ratios are what matter: absolute figures belong to this machine, and vary by ±10–25% from run to run on a shared 2-core VM.`,
    '',
    table(['', ''], [
      ['Date', results.startedAt.toISOString()],
      ['Mode', modeLine],
      ['Sections', `${settings.sections.join(', ')}${settings.cpuProfile ? ' — **with --cpu-prof: the receiving servers were profiled, which slows them**' : ''}`],
      ['Machine', `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}`],
      ['Node', `${machine.node} (OpenSSL ${machine.openssl}, V8 ${machine.v8})`],
      ['Packages', Object.entries(machine.packages).map(([name, version]) => `${name} ${version}`).join(', ')],
      ['Commit', machine.commit],
      ['Load average (1/5/15 min)', `before ${b1} / ${b5} / ${b15}, after ${a1} / ${a5} / ${a15}`],
      ['Duration', `${Math.round(results.elapsedSec)} s${results.receiving === null ? '' : `, of which ${Math.round(results.receiving.signingSec)} s signing tokens (outside every measured window)`}`]
    ])
  ].join('\n')
}

function method (results: BenchResults): string {
  const { receiving, jwks, micro } = results.settings
  return [
    '## Method',
    '',
    `Each contender runs as its own server process (\`node --import tsx\`, the packages from their built \`dist/\`), listening on 127.0.0.1, one at a time, never two at once. autocannon runs in the harness process on the same machine (the two share both cores), with ${receiving.connections} connections and no pipelining: a ${receiving.warmupSec} s warm-up, then ${receiving.runs} measured run(s) of ${receiving.runSec} s; the median of each figure is reported. Every webhook request is a POST of a distinct 1 KiB JSON body with its own token (\`Authorization: Bearer\`): tokens are signed beforehand with node:crypto and the key the JWKS serves (header \`{ alg, kid, typ: 'webhook+jwt' }\`, claims iss, aud, iat, exp = iat + 300 s, a random 128-bit jti, webhook_id and body_sha256), and the pool is grown after each warm-up to what the measured runs need at the expected pace (the warm-up's busiest quarter-second, or the fastest verifying contender measured so far) with headroom (×1.25, or ×2 after the 1 s warm-up of \`--short\`), so no verifying contender is sent a token twice (the bare route, which ignores tokens, may be; a verifying contender that is is flagged). The JWKS is served by a small static server in the harness. CPU µs per request is the server process's user + system time from \`/proc/<pid>/stat\` (all threads, the libuv threadpool included) over the measured window, divided by the responses. p99 is autocannon's latency percentile. Any non-2xx answer or connection error is counted, and flags its contender.`,
    '',
    `The **floor** of a verifying receiver is the bare route's CPU per request plus one synchronous \`crypto.verify\` of a webhook token, measured in the same run. Signing is a micro-benchmark in its own process (${micro.warmupMs} ms warm-up, ${micro.runs} run(s) of ${micro.runMs} ms, median; CPU from \`process.cpuUsage()\`), sequential and with 64 in flight; the jose contender does what a hand-written sender must: serialise, hash the body, make a jti, \`new SignJWT(...).sign(key)\` with the producer's own key. The JWKS routes are loaded with GET (${jwks.runs} × ${jwks.runSec} s after ${jwks.warmupSec} s, ${jwks.connections} connections). Delivery sends ${whole(results.settings.deliveries)} webhooks (after a fifth as many unmeasured) to a fresh bare receiver, through \`app.webhooks.deliver\` fed steadily (at most 100 outstanding, its default total concurrency, so no backlog builds) or a hand-written loop of jose + \`fetch\` with 10 in flight (the producer's default per endpoint), and reports the sender's CPU per delivered webhook; a third run queues ${whole(BURST)} webhooks at once, as when events pile up for one endpoint. Memory runs read a fresh consumer's RSS (\`/proc/<pid>/status\`) after the first 1% of the requests (the warm-up) and after the last; unknown kids are answered 401 or 503 by design, so that run counts answers rather than 2xx.`
  ].join('\n')
}

function targets (results: BenchResults): string {
  return ['## Targets', '', table(['Target', 'Measured', 'Verdict'], checkTargets(results).map((check) => [check.target, check.measured, `**${verdict(check)}**`]))].join('\n')
}

function receiving (results: BenchResults): string {
  if (results.receiving === null) return ''
  const parts = ['## Receiving', '', '![requests per second per contender and algorithm](results.svg)', '']
  parts.push('(a) is the ceiling, (b) the baseline. (b) and (c) check the signature, iss, aud and the algorithm; (d) also checks the token\'s format strictly, the body digest and the jti (replay), with its defaults.', '')
  for (const algorithm of ALGORITHMS) {
    const rows = RECEIVERS.map((receiver) => findReceiver(results, algorithm, receiver.id)).filter((result) => result !== undefined)
    if (rows.length === 0) continue
    const a = findReceiver(results, algorithm, 'a')
    const b = findReceiver(results, algorithm, 'b')
    parts.push(`### ${algorithm}`, '')
    parts.push(table(['Contender', 'req/s', 'p99 ms', 'CPU µs/req', '× (b)', '× (a)', 'Answers'], rows.map((result) => {
      const failures = receivingFailures(result)
      const answers = `${JSON.stringify(result.statusCounts)}${result.errors > 0 ? `, ${result.errors} errors` : ''}`
      return [`(${result.contender}) ${result.label}`, whole(result.requestsPerSec), String(result.p99Ms), micros(result.cpuMicrosPerRequest), ratio(result.requestsPerSec, b?.requestsPerSec), ratio(result.requestsPerSec, a?.requestsPerSec), failures > 0 ? `**FLAGGED**: ${answers}` : answers]
    })), '')
  }
  parts.push('### CPU floor', '')
  parts.push(table(['Algorithm', 'crypto.verify ops/s', 'verify µs', '(a) µs/req', 'floor µs/req', '(b) µs/req', '(d) µs/req', '(d) / floor'], ALGORITHMS.filter((algorithm) => results.receiving?.verifyFloors[algorithm] !== undefined).map((algorithm) => {
    const verify = results.receiving?.verifyFloors[algorithm]
    const floor = cpuFloorMicros(results, algorithm)
    const d = findReceiver(results, algorithm, 'd')
    return [algorithm, whole(verify?.opsPerSec ?? NaN), micros(verify?.cpuMicrosPerOp ?? NaN), micros(findReceiver(results, algorithm, 'a')?.cpuMicrosPerRequest ?? NaN), micros(floor ?? NaN), micros(findReceiver(results, algorithm, 'b')?.cpuMicrosPerRequest ?? NaN), micros(d?.cpuMicrosPerRequest ?? NaN), ratio(d?.cpuMicrosPerRequest, floor)]
  })))
  return parts.join('\n')
}

function sending (results: BenchResults): string {
  const sending = results.sending
  if (sending === null) return ''
  const parts = ['## Sending', '', '### Signing (micro-benchmark)', '']
  parts.push(table(['Algorithm', 'Mode', 'app.webhooks.sign ops/s', 'CPU µs/op', 'jose SignJWT ops/s', 'CPU µs/op', 'sign / jose'], sending.sign.map((measure) => [
    measure.algorithm, measure.concurrency === 'sequential' ? 'sequential' : `${measure.concurrency} in flight`, whole(measure.producer.opsPerSec), micros(measure.producer.cpuMicrosPerOp), whole(measure.jose.opsPerSec), micros(measure.jose.cpuMicrosPerOp), ratio(measure.producer.opsPerSec, measure.jose.opsPerSec)
  ])), '', '### JWKS route', '')
  const staticRoute = sending.jwks.find((result) => result.contender === 'static')
  parts.push(table(['Route', 'Body bytes', 'req/s', 'p99 ms', 'CPU µs/req', '× static', 'Answers'], sending.jwks.map((route) => [
    route.label, whole(route.bodyBytes), whole(route.requestsPerSec), String(route.p99Ms), micros(route.cpuMicrosPerRequest), ratio(route.requestsPerSec, staticRoute?.requestsPerSec), `${route.non2xx + route.errors > 0 ? '**FLAGGED**: ' : ''}${JSON.stringify(route.statusCounts)}`
  ])), '', '### Delivery', '')
  const hand = sending.delivery.find((measure) => measure.way === 'hand-written')
  parts.push(table(['Way', 'webhooks/s', 'sender CPU µs per delivered webhook', 'CPU × by hand', 'delivered', 'failed'], sending.delivery.map((measure) => [
    deliveryLabel(measure.way), whole(measure.webhooksPerSec), micros(measure.cpuMicrosPerWebhook), ratio(measure.cpuMicrosPerWebhook, hand?.cpuMicrosPerWebhook), whole(measure.delivered), measure.failed > 0 ? `**${measure.failed}**` : '0'
  ])))
  return parts.join('\n')
}

function memory (results: BenchResults): string {
  if (results.memory === null) return ''
  const note = results.settings.mode === 'short' ? `Short mode: ${whole(results.settings.memoryRequests)} requests per run, not one million. ` : ''
  return ['## Memory', '', `${note}A fresh @webhook-jwt/consumer (ES256, defaults) per run; RSS read from \`/proc/<pid>/status\` after the warm-up (the first 1%) and after the last request, and sampled every 250 ms for the peak; the target is judged on that RSS growth. The server also runs with \`--expose-gc\` and reports its V8 heap in use after a full collection at both points: what it retains, apart from garbage and heap slack.`, '', table(['Run', 'Requests (warm-up)', 'req/s', 'CPU µs/req', 'RSS before MiB', 'after MiB', 'peak MiB', 'RSS growth MiB', 'heap after GC, before → after MiB', 'Expected', 'Answers'], results.memory.map((run) => [
    run.label, `${whole(run.requests)} (${whole(run.warmupRequests)})`, whole(run.requestsPerSec), micros(run.cpuMicrosPerRequest), run.rssBeforeMiB.toFixed(1), run.rssAfterMiB.toFixed(1), run.rssPeakMiB.toFixed(1), run.growthMiB.toFixed(1), `${run.heapRetainedBeforeMiB.toFixed(1)} → ${run.heapRetainedAfterMiB.toFixed(1)}`, run.expectedAnswers, `${run.unexpected > 0 ? `**FLAGGED ${run.unexpected} unexpected**: ` : ''}${JSON.stringify(run.statusCounts)}`
  ]))].join('\n')
}

function cli (results: BenchResults): string {
  if (results.cli === null) return ''
  const { cli } = results
  return ['## CLI start-up', '', `Wall time from spawn to exit of \`node packages/cli/dist/bin.js …\`, against \`node -e 0\` (Node's own start), each run ${cli.runs} times, interleaved one of each in turn, one at a time, after one unmeasured round; medians. \`decode\` takes a token signed for the run, \`jwks\` a file holding one ES256 key.`, '', table(['Command', 'median ms', '× node -e 0', 'failed runs'], [
    ['node -e 0', cli.nodeMs.toFixed(0), '1.00×', '0'],
    ...cli.commands.map((startup) => [startup.command, startup.medianMs.toFixed(0), `${startup.ratio.toFixed(2)}×`, startup.failures > 0 ? `**${startup.failures}**` : '0'])
  ])].join('\n')
}

/** bench/results.md: where and how, the targets, then every table. */
export function resultsMarkdown (results: BenchResults): string {
  return [
    header(results),
    method(results),
    targets(results),
    receiving(results),
    sending(results),
    memory(results),
    cli(results),
    ['## All figures, as printed', '', '```', formatTable(resultRows(results)), '```'].join('\n')
  ].filter((part) => part !== '').join('\n\n') + '\n'
}
