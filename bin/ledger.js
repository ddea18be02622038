#!/usr/bin/env node
// The `ledger` command: runs the TypeScript CLI through ts-node (types are checked by `npm test`).
"use strict";
require("ts-node").register({ transpileOnly: true, project: require("node:path").join(__dirname, "..", "tsconfig.json") });
require("../scripts/cli.ts");
