// tap's coverage map. These tests run code in a child process, and that partial run must not be merged into
// the coverage of the sources: the published-packages test runs the built dist/ (whose source maps point
// back at src/), and the demo test runs the demo as a user does (its modules are covered in-process by
// rotation-demo-report.test.ts; what it adds, the live scenario, is checked by its output).
const CHILD_PROCESS_TESTS = ['published-packages.test.ts', 'rotation-demo.test.ts']

export default function coverageMap (testFile) {
  return CHILD_PROCESS_TESTS.some((name) => testFile.endsWith(name)) ? null : []
}
