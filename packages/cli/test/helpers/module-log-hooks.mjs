// The resolve hook of module-log.mjs: it runs on the loader's thread, and logs each module's URL as it resolves.
import { appendFileSync } from 'node:fs'

let file

export function initialize (data) {
  file = data.file
}

export async function resolve (specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  appendFileSync(file, `${resolved.url}\n`)
  return resolved
}
