// The CLI's quick start. Node 20 keeps no compiled code between runs of an ES module, so every
// `crib pods` compiled its functions afresh and set up the ES module loader: a third of the
// command's CPU. scripts/bundle-cli.sh therefore bundles the CLI (dist/src/cli/main.js and what it
// imports, without cribd's modules) into one CommonJS file and writes V8's code cache of it beside;
// bin/crib (CommonJS too, by bin/package.json) runs client commands from that. Without the bundle,
// or when tsc wrote main.js after it (a build without scripts/build.sh), it runs the modules: never
// stale code.
'use strict';
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const cli = path.join(__dirname, '..', 'dist', 'src', 'cli');

/** @typedef {{ bundle: string, cache: string, modules: string }} BundleFiles */
/** @type {BundleFiles} the bundle, V8's code cache of it, and tsc's main.js (the bundle is stale when that is newer) */
const cliBundle = { bundle: path.join(cli, 'bundle.cjs'), cache: path.join(cli, 'bundle.cjs.cache'), modules: path.join(cli, 'main.js') };

/** @param {string} file @returns {number} its mtime, -1 when it is missing */
const mtime = (file) => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;

/**
 * The bundle compiled as node compiles a CommonJS module (V8 takes the cache only for the same
 * source length and the same V8 and flags).
 * @param {string} file @param {Buffer} [cachedData]
 */
function compile(file, cachedData) {
  const source = `(function (exports, require, module, __filename, __dirname) { ${fs.readFileSync(file, 'utf8')}\n})`;
  return new vm.Script(source, cachedData ? { filename: file, cachedData } : { filename: file });
}

/**
 * The bundle's main, or undefined when it is missing or older than tsc's output. A code cache older
 * than the bundle is not read (V8 checks the source's length, not its text); one V8 rejects
 * (another node, other flags) costs only the compile.
 * @param {BundleFiles} [files]
 * @returns {((argv: string[]) => Promise<number>) | undefined}
 */
function loadBundle(files = cliBundle) {
  const built = mtime(files.bundle);
  if (built < 0 || built < mtime(files.modules)) return undefined;
  const cache = mtime(files.cache) >= built ? fs.readFileSync(files.cache) : undefined;
  const mod = { exports: {} };
  compile(files.bundle, cache).runInThisContext()(mod.exports, createRequire(files.bundle), mod, files.bundle, path.dirname(files.bundle));
  return mod.exports.main;
}

/** Writes the code cache of the bundle as built (its top-level code and what V8 compiles eagerly). @param {BundleFiles} [files] */
function writeCodeCache(files = cliBundle) {
  fs.writeFileSync(files.cache, compile(files.bundle).createCachedData());
}

module.exports = { cliBundle, loadBundle, writeCodeCache };
