#!/usr/bin/env node
// The `burrow` executable (bundled by src/build/bundle.ts into dist/src/cli/burrow.cjs, CommonJS): runs the
// CLI bundle (bundle.cjs) with V8's code cache, kept per user in $XDG_CACHE_HOME/burrow, so that a start
// does not compile the bundle again. Without a usable cache it compiles as `require` would and saves one.
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import Module from "node:module";

/** The CLI bundle beside this file (CommonJS globals: this file only runs as burrow.cjs). */
const BUNDLE = path.join(__dirname, "bundle.cjs");

/** The folder of burrow's caches: `$XDG_CACHE_HOME/burrow`, else `~/.cache/burrow`; undefined without a home. */
function cacheDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, "burrow");
  return env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, ".cache", "burrow") : undefined;
}

/**
 * The cache file for this command line: `run` apart from the other commands, since the cache holds the
 * functions the first run of its kind compiled.
 */
function cacheFile(dir: string, argv: string[]): string {
  const word = argv.find((a) => !a.startsWith("-"));
  return path.join(dir, `code-cache-${word === "run" ? "run" : "cli"}.bin`);
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

/** Runs the bundle through vm.Script with the code cache; false without a cache folder (then `require` it). */
function runCached(): boolean {
  const dir = cacheDir(process.env);
  if (dir === undefined) return false;
  const source = fs.readFileSync(BUNDLE, "utf8");
  const st = fs.statSync(BUNDLE);
  // V8 checks its own version and flags, but not the source text: the bundle's identity is in the key.
  const key = `${process.version} ${process.arch} ${process.execArgv.join(" ")} ${st.size} ${st.mtimeMs} ${st.ino}`;
  const file = cacheFile(dir, process.argv.slice(2));
  const cachedData = loadCache(file, key);
  const script = new vm.Script(WRAPPER + source.replace(/^#!.*/, "") + "\n})", {
    filename: BUNDLE,
    cachedData,
  });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // At exit, the cache also holds the functions this command compiled on its way.
    process.once("exit", () => saveCache(file, key, () => script.createCachedData()));
  }
  const bundleModule = new Module(BUNDLE);
  bundleModule.filename = BUNDLE;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(
    bundleModule.exports,
    bundleModule.exports,
    Module.createRequire(BUNDLE),
    bundleModule,
    BUNDLE,
    __dirname,
    (specifier: string) => import(specifier),
  );
  return true;
}

if (!runCached()) Module.createRequire(BUNDLE)(BUNDLE);
