// tap's coverage map: which source files a test file's coverage counts for ([] = every file it loaded; null = none).
// - The published-packages test runs the built dist/ in a child process; its source maps point back at src/,
//   and that partial run must not be merged into the coverage of the sources.
// - The examples test runs the examples as separate processes, which inherit coverage collection. They are
//   runnable apps exercised end to end (paths such as a receiver timeout or a failed close are not staged
//   there), and the packages' coverage comes from their own tests: nothing from that run is counted.
const UNCOUNTED = ['published-packages.test.ts', 'examples.test.ts']

export default function coverageMap (testFile) {
  return UNCOUNTED.some((name) => testFile.endsWith(name)) ? null : []
}
