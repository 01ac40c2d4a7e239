#!/usr/bin/env node
// The `burrow` executable (bundled by src/build/bundle.ts into dist/src/cli/burrow.cjs, CommonJS): runs the
// CLI bundle (bundle.cjs), or for `burrow run` the run path alone (run.cjs), with V8's code cache, kept per
// user in $XDG_CACHE_HOME/burrow, so that a start does not compile the bundle again. Without a usable
// cache it compiles as `require` would and saves one.
import { commandWord } from "./command-word.js";

// The builtins by require(), not import: esbuild's CommonJS form of `import fs from "node:fs"` copies every
// export of the builtin onto a new object (its __toESM), at each start, before anything runs.
/* eslint-disable @typescript-eslint/no-require-imports */
const fs = require("node:fs") as typeof import("node:fs");
const path = require("node:path") as typeof import("node:path");
const vm = require("node:vm") as typeof import("node:vm");
const Module = require("node:module") as typeof import("node:module");
/* eslint-enable @typescript-eslint/no-require-imports */

/** The CLI bundle beside this file (CommonJS globals: this file only runs as burrow.cjs). */
const BUNDLE = path.join(__dirname, "bundle.cjs");

/** `burrow run` alone (src/cli/run-direct.ts), beside it. */
const RUN_BUNDLE = path.join(__dirname, "run.cjs");

/** The folder of burrow's caches: `$XDG_CACHE_HOME/burrow`, else `~/.cache/burrow`; undefined without a home. */
function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, "burrow");
  return env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, ".cache", "burrow") : undefined;
}

/** Saves `data()` under `key` (tmp file, then rename: a reader sees a whole file or none); best effort. */
function saveCache(file: string, key: string, data: () => Buffer): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(key + "\n"), data()]), { mode: 0o600, flag: "wx" });
    fs.renameSync(tmp, file);
  } catch {
    // A read-only or full home: the next start compiles again.
  }
}

/** The cached data saved under `key`, or undefined. */
function loadCache(file: string, key: string): Buffer | undefined {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = raw.indexOf(10);
  return nl > 0 && raw.toString("utf8", 0, nl) === key ? raw.subarray(nl + 1) : undefined;
}

/**
 * The bundle's CommonJS wrapper, plus `__burrowImport`: code compiled by vm.Script cannot use import()
 * itself (Node 20), so the bundle imports npm packages and builtins through this file's import().
 */
const WRAPPER = "(function (exports, require, module, __filename, __dirname, __burrowImport) { ";

/**
 * Runs `bundle` (a CommonJS file beside this one) through vm.Script with the code cache named `name`
 * (`run` apart from the other commands: the cache holds the functions the first start of its kind
 * compiled); without a cache folder it is required as usual. Returns the bundle's exports.
 */
function runCached(bundle: string, name: string): unknown {
  const dir = cacheDir(process.env);
  if (dir === undefined) return Module.createRequire(bundle)(bundle) as unknown;
  const source = fs.readFileSync(bundle, "utf8");
  const st = fs.statSync(bundle);
  // V8 checks its own version and flags, but not the source text: the bundle's identity is in the key.
  const key = `${process.version} ${process.arch} ${process.execArgv.join(" ")} ${st.size} ${st.mtimeMs} ${st.ino}`;
  const file = path.join(dir, `code-cache-${name}.bin`);
  const cachedData = loadCache(file, key);
  const script = new vm.Script(WRAPPER + source.replace(/^#!.*/, "") + "\n})", {
    filename: bundle,
    cachedData,
  });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // At exit, the cache also holds the functions this command compiled on its way.
    process.once("exit", () => saveCache(file, key, () => script.createCachedData()));
  }
  const bundleModule = new Module(bundle);
  bundleModule.filename = bundle;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(
    bundleModule.exports,
    bundleModule.exports,
    bundleRequire(bundle),
    bundleModule,
    bundle,
    __dirname,
    (specifier: string) => import(specifier),
  );
  return bundleModule.exports;
}

/** The packages bundled apart, once loaded: one instance for run.cjs and bundle.cjs alike, as require's cache gives. */
const separate = new Map<string, unknown>();

/**
 * The `require` a bundle runs with: the packages bundled apart beside it (`./got.cjs`, src/build/bundle.ts)
 * go through runCached too, each with a code cache of its own (got: some 20 ms of compiling at every command
 * that speaks to a registry); everything else as `require` does.
 */
function bundleRequire(bundle: string): NodeJS.Require {
  const plain = Module.createRequire(bundle);
  const require = (id: string): unknown => {
    if (!/^\.\/[a-z-]+\.cjs$/.test(id)) return plain(id) as unknown;
    if (!separate.has(id)) separate.set(id, runCached(path.join(__dirname, id), path.basename(id, ".cjs")));
    return separate.get(id);
  };
  return Object.assign(require, {
    resolve: plain.resolve,
    cache: plain.cache,
    main: plain.main,
    extensions: plain.extensions,
  }) as NodeJS.Require;
}

/** `burrow run` through run.cjs (src/cli/run-direct.ts) when it reads the command line; the whole CLI otherwise. */
async function launch(): Promise<void> {
  const argv = process.argv.slice(2);
  if (commandWord(argv) === "run" && fs.existsSync(RUN_BUNDLE)) {
    const { runWithoutClipanion } = runCached(RUN_BUNDLE, "run") as typeof import("./run-direct.js");
    const status = await runWithoutClipanion(argv, process.env);
    if (status !== undefined) {
      process.exitCode = status;
      return;
    }
  }
  runCached(BUNDLE, "cli");
}

void launch();
