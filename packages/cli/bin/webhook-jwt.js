#!/usr/bin/env node
// The workspace's webhook-jwt command. pnpm links a workspace package's bin when it installs, before
// anything is built: a bin pointing at dist/ is then missing and is not linked ("Failed to create bin").
// This file is always there; it runs the build, which `pnpm install` makes (the root's prepare script).
// The published package's bin is dist/bin.js itself (publishConfig.bin), so npm users never run this file.
import { existsSync } from 'node:fs'

const built = new URL('../dist/bin.js', import.meta.url)
if (existsSync(built)) {
  await import(built.href)
} else {
  process.stderr.write('error: webhook-jwt is not built (packages/cli/dist/bin.js is missing): run `pnpm build` at the repository root\n')
  process.exitCode = 3
}
