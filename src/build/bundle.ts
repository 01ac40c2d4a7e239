// Bundles the CLI, run by `npm run build` after tsc (see the why below):
//   dist/src/cli/bundle.cjs  the whole CLI (src/cli/main.ts and what it imports) in one CommonJS file;
//   dist/src/cli/run.cjs     `burrow run` alone (src/cli/run-direct.ts: no clipanion, no other command);
//   dist/src/cli/burrow.cjs  package.json's `bin` (src/cli/launch.ts): runs bundle.cjs with V8's code cache;
//   dist/src/cli/got.cjs     got, the HTTP client, in its own file, required only when a registry is spoken to;
//   dist/src/cli/main.js     replaces tsc's output with an ES module that loads burrow.cjs (tests run it).
//
// Why one CommonJS file: measured on `burrow run IMAGE /bin/true` (Node 20), a single CommonJS file starts
// faster than an ES module bundle split in chunks (no ESM resolution and linking per file, builtins
// without ESM facades), and `import()` of burrow's own modules becomes a lazy initialiser in the same
// file: a module's code runs (and its builtins load) only when the command reaches it. npm packages
// loaded through `import()` (conf, fzstd) stay in node_modules and are imported when used; got, which
// src/registry/http.ts imports statically and which is ESM-only, gets its own CommonJS bundle.
// The launcher's code cache then spares compiling the bundle at each start (see src/cli/launch.ts).
// dist/src/cli/main.js goes through Node's ESM loader first (about 10 ms more): `bin` skips it.
import fs from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { build } from "esbuild";
import type { BuildOptions, Plugin } from "esbuild";
import { packageRoot } from "../package-info.js";

/** npm packages bundled into bundle.cjs (CommonJS, small, needed by every command). */
const BUNDLED = new Set(["clipanion", "typanion"]);

/** ESM-only npm packages that burrow's sources import statically: each becomes `<name>.cjs` beside the CLI. */
const SEPARATE = ["got"];

const root = packageRoot();
const outdir = path.join(root, "dist", "src", "cli");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  dependencies?: Record<string, string>;
};

const common: BuildOptions = {
  absWorkingDir: root,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  // The sources are ES modules, strict by definition: keep them strict as CommonJS.
  banner: { js: '"use strict";' },
};

/**
 * Sends `import("pkg")` of what stays outside the bundle through `__burrowDynamicImport` (see the banner):
 * the launcher compiles the bundle with vm.Script, whose code cannot call import() itself on Node 20.
 */
const outsideImports: Plugin = {
  name: "outside-imports",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = fs.readFileSync(args.path, "utf8");
      const contents = source.replace(/\bimport\(("[^"]+")\)/g, (call, literal: string) => {
        const spec = JSON.parse(literal) as string;
        return spec.startsWith(".") || BUNDLED.has(spec) ? call : `__burrowDynamicImport(${literal})`;
      });
      return { contents, loader: "ts" };
    });
  },
};

/** Points a SEPARATE package at its own bundle, required at run time from beside burrow.cjs. */
const separatePackages: Plugin = {
  name: "separate-packages",
  setup(b) {
    const names = new RegExp(`^(${SEPARATE.join("|")})$`);
    b.onResolve({ filter: names }, (args) => ({ path: `./${args.path}.cjs`, external: true }));
  },
};

/**
 * Builtins that burrow's sources import statically but most commands never call (a registry digest on
 * `run`'s way, say): the bundle requires each on the first call of one of its functions, so that
 * loading it (node:crypto: the whole module and its bindings, a few ms) is paid only when it is used.
 * An import of a name missing here fails the build (esbuild: no matching export).
 */
const LAZY_BUILTINS: Record<string, string[]> = {
  "node:crypto": ["createHash", "createHmac", "randomBytes", "randomUUID", "timingSafeEqual"],
};

const lazyBuiltins: Plugin = {
  name: "lazy-builtins",
  setup(b) {
    const names = new RegExp(`^(${Object.keys(LAZY_BUILTINS).join("|")})$`);
    b.onResolve({ filter: names }, (args) => {
      // The shim's own require is the builtin itself; npm packages keep their imports as they are.
      if (args.namespace === "lazy-builtin") return { path: args.path, external: true };
      if (args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      return { path: args.path, namespace: "lazy-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => {
      const spec = JSON.stringify(args.path);
      const lines = [`let loaded;`, `const load = () => (loaded ??= require(${spec}));`];
      for (const fn of LAZY_BUILTINS[args.path] ?? []) {
        lines.push(`export function ${fn}(...args) { return load().${fn}(...args); }`);
      }
      return { contents: lines.join("\n"), loader: "js", resolveDir: root };
    });
  },
};

/**
 * One module per builtin for the whole bundle: esbuild turns each source file's `import fs from "node:fs"`
 * into its own `__toESM(require("node:fs"))`, which copies every export of the builtin again (some 5 ms on
 * `run`'s way); through this shim the copy is made once, by the first module that needs the builtin.
 */
const sharedBuiltins: Plugin = {
  name: "shared-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (args.namespace === "shared-builtin") return { path: args.path, external: true };
      if (args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      return { path: args.path, namespace: "shared-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "shared-builtin" }, (args) => {
      const spec = JSON.stringify(args.path);
      return { contents: `export { default } from ${spec};\nexport * from ${spec};\n`, loader: "js" };
    });
  },
};

await Promise.all(
  SEPARATE.map((name) =>
    build({ ...common, entryPoints: [name], outfile: path.join(outdir, `${name}.cjs`) }),
  ),
);

await build({ ...common, entryPoints: ["src/cli/launch.ts"], outfile: path.join(outdir, "burrow.cjs") });

/**
 * The launcher's first lines: sh runs `node -- burrow.cjs ARGS`, JavaScript reads a string and a comment.
 * Node 20 takes `--env-file` for its own even after the script's name (nodejs/node#54232): with
 * `#!/usr/bin/env node`, `burrow run --env-file F` had node load F into burrow's own environment, and
 * a missing F ended burrow before it started. `--` ends node's options; `env -S` would say the same
 * but older coreutils (RHEL 7's, on clusters) lack it.
 */
//
// `burrow run` first tries burrow-ns --replay (engines/userns/replay.c: the run again from its record,
// without Node; src/run/replay-record.ts), the helper of this package for this machine (vendor/linux-ARCH,
// ARCH as process.arch names it), found from the launcher's real path; BURROW_FAST_START=0 skips it.
const FAST_RUN = [
  'if [ "$1" = run ] && [ "${BURROW_FAST_START-}" != 0 ]; then',
  "burrow_p=$0;",
  '[ -L "$burrow_p" ] && burrow_p=$(readlink -f -- "$burrow_p");',
  "{ read -r burrow_a </proc/sys/kernel/arch; } 2>/dev/null || burrow_a=$(uname -m);",
  "case $burrow_a in x86_64) burrow_a=x64 ;; aarch64 | arm64) burrow_a=arm64 ;; ppc64le) burrow_a=ppc64 ;; esac;",
  "burrow_p=${burrow_p%/*}/../../../vendor/linux-$burrow_a/burrow-ns;",
  '[ -x "$burrow_p" ] && exec "$burrow_p" --replay "$0" "$@";',
  "fi;",
].join(" ");
const LAUNCHER_HEAD = `#!/bin/sh\n':' //; ${FAST_RUN} exec node -- "$0" "$@"\n`;
const launcher = path.join(outdir, "burrow.cjs");
const launcherText = fs.readFileSync(launcher, "utf8");
if (!launcherText.startsWith("#!/usr/bin/env node\n")) {
  throw new Error("src/build/bundle.ts: burrow.cjs does not start with src/cli/launch.ts's #! line");
}
fs.writeFileSync(launcher, LAUNCHER_HEAD + launcherText.slice(launcherText.indexOf("\n") + 1));

/** A CLI bundle: `entry` and what it imports, in one CommonJS file run by the launcher. */
const cliBundle = (entry: string, outfile: string): BuildOptions => ({
  ...common,
  entryPoints: [entry],
  outfile: path.join(outdir, outfile),
  // The other dependencies are imported with import(), which CommonJS keeps: they load from node_modules.
  external: Object.keys(pkg.dependencies ?? {}).filter((n) => !BUNDLED.has(n) && !SEPARATE.includes(n)),
  plugins: [separatePackages, lazyBuiltins, sharedBuiltins, outsideImports],
  // package-info.ts finds package.json from its own location.
  define: { "import.meta.url": "__burrowModule.url" },
  banner: {
    js: [
      '"use strict";',
      // Computed when read (node:url is not loaded otherwise).
      'const __burrowModule = { get url() { return require("node:url").pathToFileURL(__filename).href; } };',
      // __burrowImport is the launcher's import(), when it runs the bundle (src/cli/launch.ts).
      'const __burrowDynamicImport = typeof __burrowImport === "function" ? __burrowImport : (s) => import(s);',
    ].join("\n"),
  },
  metafile: true,
});

// bundle.cjs: every command; run.cjs: `burrow run` alone, without clipanion (src/cli/run-direct.ts).
const results = await Promise.all([
  build(cliBundle("src/cli/main.ts", "bundle.cjs")),
  build(cliBundle("src/cli/run-direct.ts", "run.cjs")),
]);

// run.cjs holds no pull (run-direct.ts hands a run whose image is missing to the whole CLI) and no clipanion:
// what it bundles is read and compiled at every start.
const runInputs = Object.keys(results[1].metafile!.inputs);
const heavy = runInputs.filter((f) => /^src\/(cli\/)?pull\.ts$|node_modules\/clipanion\//.test(f));
if (heavy.length > 0) {
  throw new Error(
    `src/build/bundle.ts: run.cjs bundles ${heavy.join(", ")}: keep the pull and clipanion out of it`,
  );
}

// A package left external and imported statically would be require()d: an ESM-only one fails on Node 20.
const required = results
  .flatMap((result) => Object.values(result.metafile!.inputs))
  .flatMap((input) =>
    input.imports.filter(
      (imp) =>
        imp.external &&
        imp.kind !== "dynamic-import" &&
        !imp.path.startsWith("node:") &&
        !imp.path.startsWith("./"),
    ),
  );
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const bad = required.filter((imp) => !builtins.has(imp.path)).map((imp) => imp.path);
if (bad.length > 0) {
  throw new Error(
    `src/build/bundle.ts: ${[...new Set(bad)].join(", ")} imported statically but not bundled: ` +
      "import it with import(), or add it to BUNDLED (CommonJS) or SEPARATE (ESM-only)",
  );
}

for (const file of ["bundle.cjs", "run.cjs"]) {
  const bundled = fs.readFileSync(path.join(outdir, file), "utf8");
  if (bundled.split(/\bimport\(/).length !== 2) {
    throw new Error(
      `src/build/bundle.ts: ${file} calls import() outside __burrowDynamicImport (see outsideImports)`,
    );
  }
}
fs.writeFileSync(
  path.join(outdir, "main.js"),
  "#!/usr/bin/env node\n// The CLI is bundled in burrow.cjs (src/build/bundle.ts); this entry point loads it.\n" +
    'import "./burrow.cjs";\n',
);
for (const file of ["bundle.cjs", "run.cjs"]) {
  const bytes = fs.statSync(path.join(outdir, file)).size;
  process.stdout.write(`bundle: dist/src/cli/${file} ${Math.round(bytes / 1024)} KiB\n`);
}
