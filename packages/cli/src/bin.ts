#!/usr/bin/env node
import { main } from './main.ts'

// A reader that goes away (`webhook-jwt keys status | head`) is not an error: stop writing, quietly.
for (const stream of [process.stdout, process.stderr]) {
  /* c8 ignore next 4 -- cannot be staged deterministically: a pipe's buffer takes the first output whenever the reader leaves */
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? 0)
  })
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signals: process })
