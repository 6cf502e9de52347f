import t from 'tap'
import { formatDuration, parseDuration } from '@webhook-jwt/protocol'

t.test('numbers are seconds', async (t) => {
  t.equal(parseDuration(300, 'tokenTtl'), 300)
  t.equal(parseDuration(1.5, 'clockSkew'), 1.5)
  t.equal(parseDuration(0, 'clockSkew'), 0)
})

t.test('strings carry a unit', async (t) => {
  const cases: Array<[string, number]> = [['500ms', 0.5], ['90', 90], ['90s', 90], ['10m', 600], ['2h', 7200], ['30d', 2592000], ['1w', 604800], [' 1.5 s ', 1.5], ['0.1m', 6]]
  for (const [text, seconds] of cases) t.equal(parseDuration(text, 'x'), seconds, text)
})

t.test('anything else is refused with the option named', async (t) => {
  for (const bad of [-1, NaN, Infinity, '10 minutes', '', '-5s', '1e3', null, {}, [], true, 'x'.repeat(50)]) {
    t.throws(() => parseDuration(bad, 'jwks.maxAge'), { code: 'WEBHOOK_INVALID_OPTION', option: 'jwks.maxAge', message: /^"jwks\.maxAge" must be a duration/ }, String(bad))
  }
  t.throws(() => parseDuration('x'.repeat(50), 'a'), { message: /a string of 50 characters/ }, 'long strings are not echoed')
})

t.test('integer rule for header and NumericDate values', async (t) => {
  t.equal(parseDuration('10m', 'jwks.maxAge', 'integer'), 600)
  t.throws(() => parseDuration(1.5, 'tokenTtl', 'integer'), { code: 'WEBHOOK_INVALID_OPTION', message: /"tokenTtl" must be a whole number of seconds/ })
})

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(1.5), '1.5s')
  t.equal(formatDuration(45), '45s')
  t.equal(formatDuration(600), '10m')
  t.equal(formatDuration(630), '10m30s')
  t.equal(formatDuration(90061), '1d1h1m1s')
  t.equal(formatDuration(60.25), '60.25s')
})
