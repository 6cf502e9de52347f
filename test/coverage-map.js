// tap's coverage map. The published-packages test runs the built dist/ in a child process; its source maps
// point back at src/, and that partial run must not be merged into the coverage of the sources.
export default function coverageMap (testFile) {
  return testFile.endsWith('published-packages.test.ts') ? null : []
}
