/** Raised for JSON nested too deeply or repeating a member name inside one object (and for invalid JSON). */
export class StrictJsonError extends Error {
  override name = 'StrictJsonError'
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])

/**
 * Parses JSON, refusing what `JSON.parse` lets through silently: a member name repeated in one object
 * (`JSON.parse` keeps the last, another parser the first: RFC 7515 §4 and RFC 7519 §4 allow rejecting
 * them, so we do), and nesting deeper than `maxDepth`. A scan finds the member names; `JSON.parse` then
 * validates every token and builds the value. Invalid JSON throws `StrictJsonError` or `SyntaxError`.
 */
export function parseStrictJson (text: string, maxDepth = 16): unknown {
  let at = 0
  const fail = (): never => { throw new StrictJsonError('invalid JSON') }
  const skipWhitespace = (): void => {
    while (WHITESPACE.has(text.charCodeAt(at))) at++
  }
  const readString = (): string => {
    const start = at++
    for (;;) {
      const code = text.charCodeAt(at)
      if (Number.isNaN(code)) fail()
      if (code === 0x22) break
      at += code === 0x5c ? 2 : 1
    }
    at++
    return JSON.parse(text.slice(start, at)) as string
  }
  const readValue = (depth: number): void => {
    if (depth > maxDepth) throw new StrictJsonError('JSON nested too deeply')
    skipWhitespace()
    const code = text.charCodeAt(at)
    if (code === 0x22) {
      readString()
    } else if (code === 0x7b) {
      at++
      const names = new Set<string>()
      skipWhitespace()
      if (text.charCodeAt(at) === 0x7d) {
        at++
        return
      }
      for (;;) {
        skipWhitespace()
        if (text.charCodeAt(at) !== 0x22) fail()
        const name = readString()
        if (names.has(name)) throw new StrictJsonError(`duplicate member "${name}"`)
        names.add(name)
        skipWhitespace()
        if (text.charCodeAt(at++) !== 0x3a) fail()
        readValue(depth + 1)
        skipWhitespace()
        const next = text.charCodeAt(at++)
        if (next === 0x7d) return
        if (next !== 0x2c) fail()
      }
    } else if (code === 0x5b) {
      at++
      skipWhitespace()
      if (text.charCodeAt(at) === 0x5d) {
        at++
        return
      }
      for (;;) {
        readValue(depth + 1)
        skipWhitespace()
        const next = text.charCodeAt(at++)
        if (next === 0x5d) return
        if (next !== 0x2c) fail()
      }
    } else {
      // A number or a literal: delimit it here, let JSON.parse judge it below.
      const start = at
      while (at < text.length && /[-+.\w]/.test(text[at] as string)) at++
      if (at === start) fail()
    }
  }
  readValue(0)
  skipWhitespace()
  if (at !== text.length) fail()
  try {
    return JSON.parse(text)
  } catch {
    return fail()
  }
}
