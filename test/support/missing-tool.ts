import fs from 'node:fs';
import path from 'node:path';

/**
 * A test that needs a program the machine may lack (crictl: Debian does not package it) is skipped
 * with the reason this returns, and scripts/test.sh prints the reason in one loud line after the
 * summary (CRIB_TEST_SKIPS names the file the reasons go to). Under CRIB_TEST_REQUIRE_TOOLS=1, which
 * .ci/run sets (it has every tool), a missing tool is an error instead: nothing is skipped silently
 * there.
 */
export function missingTool(tool: string, remedy: string): string {
  const reason = `${tool} not found: ${remedy}`;
  if (process.env['CRIB_TEST_REQUIRE_TOOLS'] === '1') {
    throw new Error(`${reason} (CRIB_TEST_REQUIRE_TOOLS=1 makes every test that needs it mandatory)`);
  }
  const skips = process.env['CRIB_TEST_SKIPS'];
  // node --test runs each test file in a process of its own, the file as its script.
  if (skips) fs.appendFileSync(skips, `${path.basename(process.argv[1] ?? 'a test file')} (${reason})\n`);
  return reason;
}
