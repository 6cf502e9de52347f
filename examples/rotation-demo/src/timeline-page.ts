import { escapeXml } from '@webhook-jwt/cli'
import type { RunRecord } from './run-record.ts'
import { tally } from './tally.ts'

/** An HTML page around the timeline picture and the run's report, to open in a browser. */
export function timelinePage (run: RunRecord, svg: string, report: string): string {
  const counts = tally(run.deliveries)
  const verdict = counts.failed === 0 ? 'zero failed deliveries' : `${counts.failed} failed deliveries`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>webhook-jwt rotation demo: ${verdict}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
  h1 { font-size: 20px; }
  .verdict { font-weight: 600; color: ${counts.failed === 0 ? '#238b45' : '#cb181d'}; }
  pre { background: #f6f6f6; padding: 12px; font-size: 12px; overflow-x: auto; }
</style>
</head>
<body>
<h1>Key rotation under live traffic</h1>
<p>Run of ${escapeXml(run.startedAt.toISOString())}: ${counts.sent} deliveries at ${run.rate}/s,
<span class="verdict">${verdict}</span> (${counts.verified} of ${counts.legitimate} legitimate deliveries verified, and ${counts.attacks} attacks).</p>
<figure>
${svg}<figcaption>Each lane is one signing key (its kid, and how many deliveries it got verified).
A key is published before it signs, and stays published after it stops, for at least the JWKS max-age and the token lifetime.</figcaption>
</figure>
<h2>Report</h2>
<pre>${escapeXml(report)}</pre>
</body>
</html>
`
}
