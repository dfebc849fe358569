// Sums the vitest JSON reports of every package and app (tests/runtimes writes
// one per runtime) into the closing line CI reads: `tests: N passed, M failed,
// K skipped`. Exits non-zero when no test ran, or when a report is unreadable
// or records a failure, so that a suite that crashed before its first test
// still fails the run.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

function reportPaths() {
  return ['packages', 'apps', 'tests'].flatMap((group) => {
    const groupDir = join(repositoryRoot, group);
    if (!existsSync(groupDir)) return [];
    return readdirSync(groupDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap((entry) => {
        // vitest.json from `pnpm test`, failover.json from `pnpm test:failover`,
        // one vitest-<runtime>.json per runtime of `pnpm test:runtimes`.
        const results = join(group, entry.name, 'test-results');
        if (!existsSync(join(repositoryRoot, results))) return [];
        return readdirSync(join(repositoryRoot, results))
          .filter((name) => name.endsWith('.json'))
          .map((name) => join(results, name));
      });
  });
}

/** The first line of an error, short enough for the closing lines of a CI log. */
function firstLine(text) {
  const line = String(text ?? '')
    .split('\n', 1)[0]
    .trim();
  return line.length > 240 ? `${line.slice(0, 240)}…` : line;
}

/**
 * One line per failed test, and per file that failed outside its tests, so that
 * the end of the log says what failed even when the runner's own output is cut.
 */
function failureLines(report) {
  return (report.testResults ?? []).flatMap((file) => {
    const failedTests = (file.assertionResults ?? []).filter((test) => test.status === 'failed');
    const lines = failedTests.map(
      (test) => `failed: ${test.fullName ?? test.title}: ${firstLine(test.failureMessages?.[0])}`,
    );
    if (lines.length === 0 && file.status === 'failed') {
      lines.push(
        `failed: ${relative(repositoryRoot, file.name ?? '')}: ${firstLine(file.message)}`,
      );
    }
    return lines;
  });
}

const totals = { passed: 0, failed: 0, skipped: 0 };
let hasProblem = false;

for (const path of reportPaths()) {
  let report;
  try {
    report = JSON.parse(readFileSync(join(repositoryRoot, path), 'utf8'));
  } catch (error) {
    console.error(`${path}: unreadable report (${error.message})`);
    hasProblem = true;
    continue;
  }
  const passed = report.numPassedTests ?? 0;
  const failed = report.numFailedTests ?? 0;
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  totals.passed += passed;
  totals.failed += failed;
  totals.skipped += skipped;
  const failedSuites = report.numFailedTestSuites ?? 0;
  if (failed > 0 || failedSuites > 0 || report.success === false) hasProblem = true;
  const suiteNote = failedSuites > 0 ? ` (${failedSuites} suites failed)` : '';
  console.log(`  ${path}: ${passed} passed, ${failed} failed, ${skipped} skipped${suiteNote}`);
  for (const line of failureLines(report)) console.log(`    ${line}`);
}

if (totals.passed + totals.failed === 0) {
  console.error('no test ran: no vitest report holds a passed or failed test');
  hasProblem = true;
}

console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exitCode = hasProblem ? 1 : 0;
