#!/usr/bin/env node
// The `ledger` command: runs the TypeScript CLI through esbuild's require hook (types are checked by `npm test`).
// esbuild transpiles a file in well under a millisecond; ts-node's transpile-only mode spent ~2 s of CPU
// on the CLI's modules at every start, which every command and every test that runs one paid.
"use strict";
require("esbuild-register/dist/node").register({ target: `node${process.versions.node.split(".")[0]}` });
require("../scripts/cli.ts");
