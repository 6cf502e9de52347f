import { readdirSync } from 'node:fs'

// tap's coverage map. These tests run code in child processes, and those partial runs must not be merged
// into the coverage of the sources:
// - published-packages runs the built dist/, whose source maps point back at src/;
// - packed-packages runs the packed tarballs, installed with npm outside the workspace, as a user does;
// - examples runs the example apps as processes, as a user does; reaching 100% that way would mean forcing
//   cases such as a 10 s receiver timeout, and the packages' coverage comes from their own tests;
// - rotation-demo runs the demo as a user does; its modules are covered in-process by
//   rotation-demo-report.test.ts, and what the process adds, the live scenario, is checked by its output.
const CHILD_PROCESS_TESTS = ['published-packages.test.ts', 'packed-packages.test.ts', 'examples.test.ts', 'rotation-demo.test.ts']

// The CLI's tests run the command in their own process, through its entry (main), as bin.ts does: they cover
// the CLI's sources, and only those, the packages it runs being covered by their own tests. built-command runs
// the built bin in child processes, as a user does: of what dist/ maps back to, it covers the process entry
// (bin.ts) alone, which nothing runs in-process.
const CLI_SOURCES = readdirSync('packages/cli/src', { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => `packages/cli/src/${file}`)

export default function coverageMap (testFile) {
  if (testFile.endsWith('packages/cli/test/built-command.test.ts')) return ['packages/cli/src/bin.ts']
  if (testFile.includes('packages/cli/test/')) return CLI_SOURCES
  return CHILD_PROCESS_TESTS.some((name) => testFile.endsWith(`/${name}`)) ? null : []
}
