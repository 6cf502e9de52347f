// Preloaded with `node --import` in a child process (not a test file: tap runs only *.test.ts): appends to the
// file named by WEBHOOK_JWT_MODULE_LOG every module the process loads. ES modules are logged by a resolve hook
// as they are imported; CommonJS modules, which a package may require() without a hook seeing it, from
// require.cache as the process exits.
import { appendFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'

const file = process.env.WEBHOOK_JWT_MODULE_LOG
register(new URL('./module-log-hooks.mjs', import.meta.url), { data: { file } })
const { cache } = createRequire(import.meta.url)
process.on('exit', () => { appendFileSync(file, Object.keys(cache).map((path) => `${path}\n`).join('')) })
