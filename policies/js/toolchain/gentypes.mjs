// Generates the TypeScript declarations of the contract for guests
// (`jco guest-types`) from wit/ into the SDK's types/ directory.
//
// Usage: node gentypes.mjs NODE_MODULES WIT_DIR OUT_DIR
//
// jco 1.35's own `guest-types` command runs its WIT reader under
// preview2-shim 0.26, which grants no filesystem by default, so it cannot
// read any WIT path; this calls the same generator with the WIT directory
// (and nothing else) preopened.

import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, witArg, outArg] = process.argv.slice(2);
if (!outArg) {
  console.error('usage: node gentypes.mjs NODE_MODULES WIT_DIR OUT_DIR');
  process.exit(2);
}
const transpile = join(nodeModules, '@bytecodealliance/jco-transpile');
let shim = join(transpile, 'node_modules/@bytecodealliance/preview2-shim');
if (!existsSync(shim)) shim = join(nodeModules, '@bytecodealliance/preview2-shim');
const fs = await import(pathToFileURL(join(shim, 'dist/nodejs/filesystem.js')));
const wit = resolve(witArg);
fs._setPreopens({ [wit]: wit });
const { generateGuestTypes } = await import(pathToFileURL(join(transpile, 'dist/typegen.js')));
const out = resolve(outArg);
const files = await generateGuestTypes(wit, { worldName: 'promotion-policy-core', outDir: `${out}/` });
for (const [name, text] of Object.entries(files)) {
  mkdirSync(dirname(name), { recursive: true });
  writeFileSync(name, text);
}
