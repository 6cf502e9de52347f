// tap's coverage map. These tests run code in child processes, and those partial runs must not be merged
// into the coverage of the sources:
// - published-packages runs the built dist/, whose source maps point back at src/;
// - examples runs the example apps as processes, as a user does; reaching 100% that way would mean forcing
//   cases such as a 10 s receiver timeout, and the packages' coverage comes from their own tests;
// - rotation-demo runs the demo as a user does; its modules are covered in-process by
//   rotation-demo-report.test.ts, and what the process adds, the live scenario, is checked by its output.
const CHILD_PROCESS_TESTS = ['published-packages.test.ts', 'examples.test.ts', 'rotation-demo.test.ts']

export default function coverageMap (testFile) {
  return CHILD_PROCESS_TESTS.some((name) => testFile.endsWith(`/${name}`)) ? null : []
}
