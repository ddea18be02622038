// Mocha's spec reporter plus one closing line, "N passed, N failed, N skipped",
// that CI tooling recognises whatever the test runner.
"use strict";
const path = require("node:path");
// Hardhat brings its own mocha; use that one so the reporter matches the runner.
const Mocha = require(require.resolve("mocha", { paths: [path.dirname(require.resolve("hardhat/package.json"))] }));
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      process.stdout.write(`\n${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`);
    });
  }
}
module.exports = SummaryReporter;
