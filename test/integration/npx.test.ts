// One-off use (issue 6): the package as `npm pack` makes it, run through `npm exec --package=TARBALL -- burrow`
// (what `npx` does) by the unprivileged test user with a fresh, empty HOME and npm's cache inside it. npm installs
// burrow's few dependencies from the npm registry (reachable here and in CI, which runs `npm ci`); burrow itself
// downloads nothing but the image, and picks the userns engine with the helper prebuilt in the package's vendor/.
// The fallback: a package without the prebuilt helper installs without a C compiler, and builds the helper
// at install time when there is one. Start-up on this path is timed by bench/npx/run.sh; here only behaviour.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { asTestUser, burrowEnv, makeTestHome, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { runProgram } from "../harness/proc.js";
import type { ProcResult } from "../harness/proc.js";
import { removeTree } from "../harness/remove-tree.js";

const ARCH_DIR = `linux-${process.arch}`;
const HELPERS = ["burrow-ns", "burrow-runc-init", "proot"];
const NPM_TIMEOUT_MS = 300_000;

/** Scratch for the tarballs (readable by the test user), and the user's fresh home. */
let scratch = "";
let home: TestHome;
let tarball = "";
let image = "";

const show = (r: ProcResult): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The user's environment: the fresh HOME, npm's cache inside it, burrow's default store (nothing set up). */
function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return burrowEnv(home.dir, {
    BURROW_DIR: undefined,
    BURROW_INSECURE_REGISTRIES: testEnv().registries.plain.host,
    npm_config_cache: path.join(home.dir, ".npm"),
    npm_config_update_notifier: "false",
    ...extra,
  });
}

/** Runs `argv` as the test user in its home. */
function asUser(argv: string[], env: NodeJS.ProcessEnv): Promise<ProcResult> {
  const [cmd, ...args] = asTestUser(argv);
  return runProgram(cmd!, args, { env, cwd: home.dir, allowFailure: true, timeoutMs: NPM_TIMEOUT_MS });
}

/** `npm exec --yes --package=PKG -- burrow ARGS` as the test user. */
function npx(
  pkg: string,
  args: string[],
  extra: Record<string, string | undefined> = {},
): Promise<ProcResult> {
  return asUser(["npm", "exec", "--yes", `--package=${pkg}`, "--", "burrow", ...args], userEnv(extra));
}

/** `npm pack` of the package folder `dir` into `dest` (scripts off: it is built); returns the tarball's path. */
async function pack(dir: string, dest: string): Promise<string> {
  const r = await runProgram("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dest], {
    cwd: dir,
    env: { ...process.env, npm_config_update_notifier: "false" },
    timeoutMs: NPM_TIMEOUT_MS,
  });
  const [info] = JSON.parse(r.stdout) as { filename: string }[];
  assert.ok(info, `npm pack reported no tarball:\n${r.stdout}`);
  const file = path.join(dest, info.filename);
  await fsp.chmod(file, 0o644);
  return file;
}

/** The folders npm exec installed packages into (`$npm_config_cache/_npx/<hash>/node_modules`). */
function npxInstalls(): string[] {
  const dir = path.join(home.dir, ".npm", "_npx");
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((h) => path.join(dir, h, "node_modules")) : [];
}

before(async () => {
  const env = testEnv();
  scratch = await fsp.mkdtemp(path.join(env.tmp, "npx-"));
  await fsp.chmod(scratch, 0o755);
  // npm exec installs burrow's dependencies from the npm registry: without it this test cannot run, and says so.
  // (Asked from a home of its own: the user's home stays empty until the first npm exec.)
  home = await makeTestHome();
  const ping = await asUser(["npm", "ping"], userEnv());
  const registry = await asUser(["npm", "config", "get", "registry"], userEnv());
  await home.cleanup();
  home = await makeTestHome();
  if (ping.code !== 0) {
    throw new Error(
      `the npm registry (${registry.stdout.trim() || "npm's default"}) is not reachable as the test user ` +
        "(`npm ping` failed): `npm exec` installs burrow's dependencies from it, so this test needs it " +
        `(CI has it: .ci/run runs \`npm ci\`)\n${show(ping)}`,
    );
  }
  tarball = await pack(env.packageRoot, scratch);
  const layer = await layerFromTarball(env.alpine);
  const pushed = await pushImage("plain", uniqueRepo("npx-alpine"), "3", [layer], {
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
  });
  image = pushed.ref;
});

after(async () => {
  await home?.cleanup();
  if (scratch) await removeTree(scratch);
});

describe("npm pack", () => {
  test("the tarball holds the bundled CLI, the prebuilt helpers and their sources, no tests or TypeScript", async () => {
    const list = (await runProgram("tar", ["-tzf", tarball])).stdout.trim().split("\n");
    const files = new Set(list);
    const expected = [
      "package/package.json",
      ...["burrow", "bundle", "run", "got"].map((n) => `package/dist/src/cli/${n}.cjs`),
      ...HELPERS.map((h) => `package/vendor/${ARCH_DIR}/${h}`),
      "package/vendor/manifest.json",
      // What the install script's fallback build needs.
      "package/engines/userns/build.sh",
      "package/engines/userns/Makefile",
      "package/engines/userns/main.c",
      "package/engines/userns/burrow-ns.h",
      "package/engines/runc/build.sh",
      "package/engines/runc/init.c",
      // The static PRoot: its licences and the note of where its source is, the source, and its build.
      ...["proot.COPYING", "proot.SOURCE", "talloc.LICENSE", "talloc.COPYING"].map(
        (f) => `package/vendor/${ARCH_DIR}/${f}`,
      ),
      ...["proot_5.4.0.orig.tar.gz", "talloc-2.4.3.tar.gz", "SHA256SUMS"].map(
        (f) => `package/vendor/src/${f}`,
      ),
      "package/engines/proot/build.sh",
      "package/engines/proot/talloc/replace.h",
    ];
    for (const f of expected) assert.ok(files.has(f), `${f} is not in the tarball:\n${list.join("\n")}`);
    const unwanted = list.filter(
      (f) => /^package\/(test|src|bench|node_modules|dist\/test|dist\/bench)\//.test(f) || f.endsWith(".ts"),
    );
    assert.deepEqual(unwanted, [], "no tests, benchmarks, sources in TypeScript or node_modules");
    // The helpers keep their execute bits.
    const verbose = (await runProgram("tar", ["-tvzf", tarball])).stdout.split("\n");
    for (const h of HELPERS) {
      const line = verbose.find((l) => l.endsWith(`package/vendor/${ARCH_DIR}/${h}`));
      assert.match(line ?? "", /^-rwxr-xr-x /, `${h} is executable in the tarball`);
    }
    // The bin exists, and installing the tarball builds nothing with devDependencies (npm runs `install`, not `prepare`).
    const pkg = JSON.parse((await runProgram("tar", ["-xzOf", tarball, "package/package.json"])).stdout) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    assert.ok(files.has(`package/${pkg.bin.burrow}`), `bin ${pkg.bin.burrow} is in the tarball`);
    assert.doesNotMatch(pkg.scripts.install ?? "", /tsc|npm run|esbuild/);
    for (const s of ["preinstall", "postinstall"]) assert.equal(pkg.scripts[s], undefined, `no ${s} script`);
  });
});

describe("npm exec --package=TARBALL -- burrow, as a user with an empty HOME", () => {
  test("the first run installs the package, pulls the image and runs the command", async (t) => {
    assert.deepEqual(fs.readdirSync(home.dir), [], "the home starts empty");
    const started = Date.now();
    const r = await npx(tarball, ["run", "--pull", "missing", image, "echo", "hello"]);
    t.diagnostic(`first npm exec (install + pull + run): ${Date.now() - started} ms`);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, "hello\n");
    // Installed without devDependencies: no TypeScript, no esbuild, none of the bundled packages.
    const [modules] = npxInstalls();
    assert.ok(modules, `npm exec installed nothing under ${home.dir}/.npm/_npx`);
    for (const dev of ["typescript", "esbuild", "clipanion", "got"]) {
      assert.ok(!fs.existsSync(path.join(modules, dev)), `${dev} is not installed with the package`);
    }
    assert.ok(fs.existsSync(path.join(modules, "burrow", "vendor", ARCH_DIR, "burrow-ns")));
    // The image went to the default store in the home; nothing else was fetched into it.
    const store = path.join(home.dir, ".local", "share", "burrow");
    assert.ok(fs.existsSync(store), `the store is in the default place, ${store}`);
    const bin = path.join(store, "bin");
    assert.deepEqual(
      fs.existsSync(bin) ? fs.readdirSync(bin) : [],
      [],
      "no binary was downloaded into the store",
    );
  });

  test("burrow info: the userns engine is chosen, with the helper from the package's vendor/", async () => {
    const r = await npx(tarball, ["info"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^default engine:\s+userns\b/m);
    const userns = /^ {2}userns: (.*)\n {4}binary: +(\S+)/m.exec(r.stdout);
    assert.ok(userns, `no userns entry in:\n${r.stdout}`);
    assert.equal(userns[1], "usable");
    const [modules] = npxInstalls();
    assert.equal(userns[2], path.join(modules!, "burrow", "vendor", ARCH_DIR, "burrow-ns"));
    assert.match(
      r.stdout,
      new RegExp(`^store:\\s+${path.join(home.dir, ".local", "share", "burrow")}$`, "m"),
    );
  });

  test("later runs: npm exec with the package cached (offline), and the installed bin directly", async (t) => {
    let started = Date.now();
    const cached = await npx(tarball, ["run", image, "echo", "again"], { npm_config_offline: "true" });
    t.diagnostic(`npm exec, package cached: ${Date.now() - started} ms`);
    assert.equal(cached.code, 0, show(cached));
    assert.equal(cached.stdout, "again\n");
    const [modules] = npxInstalls();
    const bin = path.join(modules!, ".bin", "burrow");
    started = Date.now();
    const direct = await asUser(
      [bin, "run", "--pull", "never", image, "cat", "/etc/alpine-release"],
      userEnv(),
    );
    t.diagnostic(`installed bin directly: ${Date.now() - started} ms`);
    assert.equal(direct.code, 0, show(direct));
    assert.match(direct.stdout, /^3\.\d+\.\d+\n$/);
  });
});

describe("user namespaces off, no proot on PATH, no network: npm exec ... burrow run falls back to the package's PRoot", () => {
  /** A PATH with every program of the test user's PATH but proot, as symlinks (scratch/no-proot-bin). */
  let noProot = "";

  before(async () => {
    noProot = path.join(scratch, "no-proot-bin");
    await fsp.mkdir(noProot);
    await fsp.chmod(noProot, 0o755);
    for (const dir of (userEnv().PATH ?? "").split(":")) {
      if (!fs.existsSync(dir)) continue;
      for (const name of fs.readdirSync(dir)) {
        const link = path.join(noProot, name);
        if (name === "proot" || fs.existsSync(link)) continue;
        await fsp.symlink(path.join(dir, name), link).catch(() => undefined);
      }
    }
  });

  /**
   * `npm exec --offline --package=TARBALL -- burrow ARGS` as the test user, in a user namespace of its own
   * (mapped to root: only root there can lower the limit) whose user.max_user_namespaces is 0, so that no
   * further user namespace can be made (the userns engine and rootless runc need one), and in a network
   * namespace of its own (only a loopback that is down: nothing can be reached, not even the test registries).
   */
  function confined(args: string[]): Promise<ProcResult> {
    const script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"';
    const npm = ["npm", "exec", "--yes", "--offline", `--package=${tarball}`, "--", "burrow", ...args];
    return asUser(
      ["/usr/bin/unshare", "--user", "--map-root-user", "--net", "/bin/sh", "-c", script, "sh", ...npm],
      userEnv({ PATH: noProot, npm_config_offline: "true" }),
    );
  }

  test("the PATH has no proot, and the namespace refuses new user namespaces", async () => {
    const r = await asUser(
      [
        "/usr/bin/unshare",
        "--user",
        "--map-root-user",
        "--net",
        "/bin/sh",
        "-c",
        'echo 0 > /proc/sys/user/max_user_namespaces && command -v proot; unshare --user true; echo "unshare: $?"',
      ],
      userEnv({ PATH: noProot }),
    );
    assert.match(r.stdout, /^unshare: 1$/m, show(r));
    assert.doesNotMatch(r.stdout, /proot/, "no proot on PATH");
  });

  test("burrow run picks proot by itself, says why under --debug, and runs the package's PRoot", async () => {
    const r = await confined(["run", "--debug", "--pull", "never", image, "cat", "/etc/alpine-release"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^3\.\d+\.\d+\n$/);
    assert.match(
      r.stderr,
      /^burrow: debug: engine proot \(userns: user namespaces are disabled on this machine .*; runc: .*user namespaces are disabled .*\)$/m,
      show(r),
    );
    const info = await confined(["info"]);
    assert.equal(info.code, 0, show(info));
    assert.match(info.stdout, /^default engine:\s+proot\b/m);
    const proot = /^ {2}proot: (.*)\n {4}binary: +(\S+)\n {4}version: +(.*)$/m.exec(info.stdout);
    assert.ok(proot, `no proot entry in:\n${info.stdout}`);
    assert.equal(proot[1], "usable");
    assert.match(proot[2]!, new RegExp(`/node_modules/burrow/vendor/${ARCH_DIR}/proot$`));
    assert.match(proot[3]!, /^5\.4\.0 /);
    // Nothing was downloaded: no `burrow install` into the store's bin/.
    const bin = path.join(home.dir, ".local", "share", "burrow", "bin");
    assert.deepEqual(fs.existsSync(bin) ? fs.readdirSync(bin) : [], []);
  });

  test("the program is traced, and its exit status comes back", async () => {
    const r = await confined([
      "run",
      "--pull",
      "never",
      image,
      "sh",
      "-c",
      "grep TracerPid /proc/self/status; exit 7",
    ]);
    assert.equal(r.code, 7, show(r));
    assert.doesNotMatch(r.stdout, /^TracerPid:\s+0$/m, "PRoot traces the program");
  });
});

describe("install-time fallback for the helper (a package without the prebuilt one)", () => {
  let bare = "";

  before(async () => {
    // The staged package without vendor/linux-*/ (dist/src, engines, vendor/manifest.json, package.json).
    const env = testEnv();
    const dir = path.join(scratch, "bare");
    await fsp.mkdir(path.join(dir, "dist"), { recursive: true });
    await runProgram("cp", ["-a", path.join(env.packageRoot, "dist", "src"), path.join(dir, "dist")]);
    for (const top of ["engines", "vendor", "package.json"]) {
      await runProgram("cp", ["-a", path.join(env.packageRoot, top), dir]);
    }
    await removeTree(path.join(dir, "vendor", ARCH_DIR));
    await fsp.mkdir(path.join(scratch, "bare-tgz"));
    bare = await pack(dir, path.join(scratch, "bare-tgz"));
  });

  test("without a C compiler the install succeeds, and burrow says the helper is missing", async () => {
    // A PATH with node, npm and the shell tools the install script uses, and no compiler.
    const tools = path.join(scratch, "no-cc-bin");
    await fsp.mkdir(tools);
    const npmCli = (await runProgram("sh", ["-c", "command -v npm"], { env: process.env })).stdout.trim();
    const links: Record<string, string> = { node: process.execPath, npm: fs.realpathSync(npmCli) };
    for (const tool of ["sh", "uname", "dirname", "env", "setpriv"]) {
      links[tool] = (await runProgram("sh", ["-c", `command -v ${tool}`])).stdout.trim();
    }
    for (const [name, target] of Object.entries(links)) await fsp.symlink(target, path.join(tools, name));
    const copy = path.join(scratch, "bare-tgz", "no-cc.tgz");
    await fsp.copyFile(bare, copy);
    await fsp.chmod(copy, 0o644);
    const earlier = new Set(npxInstalls());
    const r = await npx(copy, ["info"], { PATH: tools });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^ {2}userns: unusable\n {4}reason: .*burrow-ns helper is not built/m);
    assert.doesNotMatch(r.stdout, /^default engine:\s+userns/m);
    const [modules] = npxInstalls().filter((m) => !earlier.has(m));
    assert.ok(modules, "npm exec installed the package in a new folder");
    assert.ok(fs.existsSync(path.join(modules, "burrow", "package.json")));
    assert.ok(
      !fs.existsSync(path.join(modules, "burrow", "vendor", ARCH_DIR, "burrow-ns")),
      "no helper was built",
    );
  });

  test("with a C compiler the install script builds the helper, and burrow uses it", async () => {
    const copy = path.join(scratch, "bare-tgz", "with-cc.tgz");
    await fsp.copyFile(bare, copy);
    await fsp.chmod(copy, 0o644);
    const earlier = new Set(npxInstalls());
    const r = await npx(copy, ["info"]);
    assert.equal(r.code, 0, show(r));
    const [modules] = npxInstalls().filter((m) => !earlier.has(m));
    assert.ok(modules, "npm exec installed the package in a new folder");
    const helper = path.join(modules, "burrow", "vendor", ARCH_DIR, "burrow-ns");
    assert.ok(fs.existsSync(helper), `the install script built ${helper}`);
    assert.match(r.stdout, /^default engine:\s+userns\b/m);
    assert.match(r.stdout, new RegExp(`^ {2}userns: usable\\n {4}binary: +${helper}$`, "m"));
    // And PRoot, from the source the package carries (no network needed), with its licence and note.
    const proot = path.join(modules, "burrow", "vendor", ARCH_DIR, "proot");
    assert.ok(fs.existsSync(proot), `the install script built ${proot}`);
    for (const f of ["proot.COPYING", "proot.SOURCE"])
      assert.ok(fs.existsSync(path.join(path.dirname(proot), f)));
    assert.match(
      r.stdout,
      new RegExp(`^ {2}proot: usable\\n {4}binary: +${proot}\\n {4}version: +5\\.4\\.0 `, "m"),
    );
  });
});
