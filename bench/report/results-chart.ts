import { ALGORITHMS } from '../harness/bench-options.ts'
import { RECEIVERS } from '../sections/receiving.ts'
import { findReceiver, receivingFailures, type BenchResults } from './bench-results.ts'

const WIDTH = 960
const HEIGHT = 460
const MARGIN = { top: 70, right: 20, bottom: 90, left: 70 }
const COLOURS: Record<string, string> = { a: '#9aa0a6', b: '#4285f4', c: '#f29900', d: '#188038' }

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function text (x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escape(content)}</text>`
}

/** A step for the y axis that gives about five gridlines. */
function gridStep (max: number): number {
  const raw = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((step) => step >= raw)) ?? raw
}

/**
 * Requests per second of each receiving contender, grouped by algorithm, each bar labelled with its ratio
 * to (b), the jose preHandler. A contender with failed requests is drawn hatched and marked FLAGGED.
 */
export function resultsChart (results: BenchResults): string {
  const algorithms = ALGORITHMS.filter((algorithm) => findReceiver(results, algorithm, 'a') !== undefined)
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom
  const max = Math.max(1, ...(results.receiving?.results ?? []).map((result) => result.requestsPerSec))
  const step = gridStep(max)
  const top = Math.ceil(max / step) * step
  const y = (value: number): number => MARGIN.top + plotHeight - (value / top) * plotHeight
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`)
  parts.push('<defs><pattern id="flagged" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fce8e6"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d93025" stroke-width="3"/></pattern></defs>')
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`)
  parts.push(text(MARGIN.left, 24, 'Receiving a webhook: requests/s per contender (higher is better)', 'font-size="16" font-weight="600"'))
  parts.push(text(MARGIN.left, 44, `${results.settings.mode} run, ${results.startedAt.toISOString().slice(0, 10)}, ${results.machine.cpuModel} × ${results.machine.cores} cores, Node ${results.machine.node}; label: ratio to (b) jose preHandler`, 'fill="#5f6368"'))
  for (let value = 0; value <= top; value += step) {
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(value).toFixed(1)}" y2="${y(value).toFixed(1)}" stroke="#e8eaed"/>`)
    parts.push(text(MARGIN.left - 8, y(value) + 4, value.toLocaleString('en'), 'text-anchor="end" fill="#5f6368"'))
  }
  parts.push(text(18, MARGIN.top + plotHeight / 2, 'req/s', `transform="rotate(-90 18 ${MARGIN.top + plotHeight / 2})" text-anchor="middle" fill="#5f6368"`))
  const groupWidth = plotWidth / Math.max(1, algorithms.length)
  const barWidth = Math.min(56, (groupWidth * 0.8) / RECEIVERS.length)
  algorithms.forEach((algorithm, group) => {
    const b = findReceiver(results, algorithm, 'b')
    const groupLeft = MARGIN.left + group * groupWidth + (groupWidth - barWidth * RECEIVERS.length) / 2
    RECEIVERS.forEach((receiver, index) => {
      const result = findReceiver(results, algorithm, receiver.id)
      if (result === undefined) return
      const flagged = receivingFailures(result) > 0
      const x = groupLeft + index * barWidth
      const barTop = y(result.requestsPerSec)
      parts.push(`<rect x="${(x + 2).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(MARGIN.top + plotHeight - barTop).toFixed(1)}" fill="${flagged ? 'url(#flagged)' : COLOURS[receiver.id] ?? '#000'}"${flagged ? ' stroke="#d93025"' : ''}/>`)
      const label = flagged ? 'FLAGGED' : receiver.id === 'b' ? 'baseline' : b === undefined ? '' : `${(result.requestsPerSec / b.requestsPerSec).toFixed(2)}×`
      parts.push(text(x + barWidth / 2, barTop - 18, label, `text-anchor="middle" font-weight="600"${flagged ? ' fill="#d93025"' : ''}`))
      parts.push(text(x + barWidth / 2, barTop - 5, Math.round(result.requestsPerSec).toLocaleString('en'), 'text-anchor="middle" fill="#5f6368" font-size="10"'))
      parts.push(text(x + barWidth / 2, MARGIN.top + plotHeight + 14, `(${receiver.id})`, 'text-anchor="middle" fill="#5f6368"'))
    })
    parts.push(text(MARGIN.left + group * groupWidth + groupWidth / 2, MARGIN.top + plotHeight + 32, algorithm, 'text-anchor="middle" font-size="14" font-weight="600"'))
  })
  RECEIVERS.forEach((receiver, index) => {
    const x = MARGIN.left + (index % 2) * 420
    const legendY = HEIGHT - 30 + Math.floor(index / 2) * 18 - 8
    parts.push(`<rect x="${x}" y="${legendY - 10}" width="12" height="12" fill="${COLOURS[receiver.id] ?? '#000'}"/>`)
    parts.push(text(x + 18, legendY, `(${receiver.id}) ${receiver.label}${receiver.id === 'a' ? ' (ceiling)' : receiver.id === 'b' ? ' (baseline)' : ''}`))
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
