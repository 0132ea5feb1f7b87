// Prints "tests: N passed, N failed" over vitest's JSON report and pytest's JUnit XML.
// Usage: node summarize-tests.mjs VITEST_JSON PYTEST_XML FAILED_STEPS
import fs from 'node:fs';

const [vitestJson, pytestXml, failedSteps = '0'] = process.argv.slice(2);
let passed = 0;
let failed = Number(failedSteps);
let skipped = 0;

if (vitestJson && fs.existsSync(vitestJson)) {
  const r = JSON.parse(fs.readFileSync(vitestJson, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
if (pytestXml && fs.existsSync(pytestXml)) {
  const xml = fs.readFileSync(pytestXml, 'utf8');
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (name) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const bad = attr('failures') + attr('errors');
  passed += attr('tests') - bad - attr('skipped');
  failed += bad;
  skipped += attr('skipped');
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
