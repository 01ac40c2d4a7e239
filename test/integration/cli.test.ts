// The CLI's own contract: help, version, showconf and config layers, global options, progress, verify.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { testEnv, runBurrow, makeTestHome, chownToTestUser, burrowEnv, asTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries, pushImage, uniqueRepo } from "../harness/image-builder.js";

let home: TestHome;
before(async () => {
  home = await makeTestHome();
});
after(async () => {
  await home.cleanup();
});

const plainEnv = () => ({ BURROW_INSECURE_REGISTRIES: testEnv().registries.plain.host });

test("help lists every command and each command has --help", async () => {
  const r = await runBurrow(["help"], { home });
  assert.equal(r.code, 0);
  for (const c of [
    "pull",
    "images",
    "rmi",
    "tag",
    "inspect",
    "verify",
    "login",
    "logout",
    "showconf",
    "version",
  ]) {
    assert.match(r.stdout, new RegExp(`burrow ${c}\\b`), c);
  }
  const p = await runBurrow(["pull", "--help"], { home });
  assert.equal(p.code, 0);
  assert.match(p.stdout, /--platform/);
  const h = await runBurrow(["help", "pull"], { home });
  assert.match(h.stdout, /--platform/);
  const none = await runBurrow([], { home });
  assert.equal(none.code, 0);
  assert.match(none.stdout, /burrow pull/);
});

test("help groups the commands (images, containers, running, registries, set-up) and prints the global options once", async () => {
  const r = await runBurrow(["--help"], { home });
  assert.equal(r.code, 0);
  assert.equal(
    (await runBurrow(["help"], { home })).stdout,
    r.stdout,
    "burrow help prints what --help prints",
  );
  const headers = r.stdout
    .split("\n")
    .filter((l) => /^(Images|Containers|Running|Registries|Set-up)$/.test(l));
  assert.deepEqual(headers, ["Images", "Containers", "Running", "Registries", "Set-up"]);
  const groupOf = (c: string): string | undefined => {
    const at = r.stdout.search(new RegExp(`^ {2}burrow ${c}\\b`, "m"));
    return at < 0 ? undefined : headers.filter((h) => r.stdout.indexOf(`\n${h}\n`) < at).pop();
  };
  assert.equal(groupOf("pull"), "Images");
  assert.equal(groupOf("ps"), "Containers");
  assert.equal(groupOf("run"), "Running");
  assert.equal(groupOf("login"), "Registries");
  assert.equal(groupOf("info"), "Set-up");
  for (const g of ["--repo", "--debug", "--quiet", "--insecure", "--offline"]) {
    assert.equal(r.stdout.split(g).length - 1, 1, `${g} appears once`);
  }
  assert.match(r.stdout, /^Global options/m);
  // A command's own page: its options, the global ones named on one line.
  const p = await runBurrow(["pull", "--help"], { home });
  assert.equal(p.code, 0);
  const own = p.stdout.slice(p.stdout.indexOf("\nOptions\n"), p.stdout.indexOf("\nGlobal options:"));
  assert.match(own, /--platform/);
  assert.doesNotMatch(own, /--repo|--debug/);
  assert.match(p.stdout, /^Global options: --repo/m);
});

test("an unknown command or option is a one-line usage error with status 125", async () => {
  const r = await runBurrow(["frobnicate"], { home });
  assert.equal(r.code, 125);
  assert.equal(
    r.stderr,
    `burrow: unknown command "frobnicate": run 'burrow help' for the list of commands\n`,
  );
  const o = await runBurrow(["images", "--nope"], { home });
  assert.equal(o.code, 125);
  assert.match(o.stderr, /--nope/);
  assert.equal(o.stderr.trim().split("\n").length, 1);
});

test("a command that fails exits 1; run and exec exit 125 (their other statuses are the program's)", async () => {
  const absent = `${testEnv().registries.plain.host}/${uniqueRepo("absent")}:1`;
  const cases: [string[], number][] = [
    [["rmi", "no-such-image:1"], 1],
    [["inspect", "no-such-image:1"], 1],
    [["--repo", home.burrowDir, "inspect", "no-such-image:1"], 1],
    [["logs", "nobody"], 1],
    [["stop", "nobody"], 1],
    [["rm", "nobody"], 1],
    [["pull", "--", "UPPER/case"], 1],
    [["run", "--pull", "never", absent, "true"], 125],
    [["--repo", home.burrowDir, "run", "--pull", "never", absent, "true"], 125],
    [["exec", "nobody", "true"], 125],
    [["container", "exec", "nobody", "true"], 125],
    [["--repo", home.burrowDir, "container", "exec", "nobody", "true"], 125],
    [["image", "rm", "no-such-image:1"], 1],
    [["load", "-i", "/no-such-archive.tar"], 1],
  ];
  for (const [args, status] of cases) {
    const r = await runBurrow(args, { home, env: plainEnv() });
    assert.equal(r.code, status, `burrow ${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `burrow ${args.join(" ")}: one line: ${r.stderr}`);
    assert.equal(r.stdout, "", `burrow ${args.join(" ")}`);
  }
});

test("version prints burrow's version", async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(testEnv().packageRoot, "package.json"), "utf8")) as {
    version: string;
  };
  const r = await runBurrow(["version"], { home });
  assert.equal(r.code, 0);
  assert.match(r.stdout, new RegExp(`^burrow ${pkg.version.replace(/\./g, "\\.")}$`, "m"));
  assert.equal((await runBurrow(["--version"], { home })).code, 0);
});

test("showconf: defaults < config file < environment < flags, with the source of each value", async () => {
  const h = await makeTestHome();
  try {
    const confDir = path.join(h.dir, ".config", "burrow");
    fs.mkdirSync(confDir, { recursive: true });
    fs.writeFileSync(
      path.join(confDir, "config.json"),
      JSON.stringify({ storeDir: path.join(h.dir, "from-file"), insecureRegistries: ["file.example:5000"] }),
    );
    await chownToTestUser(path.join(h.dir, ".config"));
    const show = async (args: string[], env: Record<string, string | undefined>) => {
      const r = await runBurrow(["showconf", "--format", "json", ...args], {
        home: h,
        env: { BURROW_DIR: undefined, ...env },
      });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Record<string, { value: unknown; source: string }>;
    };
    const f = await show([], {});
    assert.deepEqual(f.storeDir, { value: path.join(h.dir, "from-file"), source: "file" });
    assert.deepEqual(f.insecureRegistries, { value: ["file.example:5000"], source: "file" });
    const e = await show([], { BURROW_DIR: "/env/store", BURROW_INSECURE_REGISTRIES: "env.example" });
    assert.deepEqual(e.storeDir, { value: "/env/store", source: "env" });
    assert.deepEqual(e.insecureRegistries, { value: ["env.example"], source: "env" });
    const fl = await show(["--repo", "/flag/store"], { BURROW_DIR: "/env/store" });
    assert.deepEqual(fl.storeDir, { value: "/flag/store", source: "flag" });
    const d = await runBurrow(["showconf"], {
      home: h,
      env: { BURROW_DIR: undefined, XDG_CONFIG_HOME: path.join(h.dir, "none") },
    });
    assert.match(d.stdout, new RegExp(`storeDir: ${h.dir}/\\.local/share/burrow\\s+\\(default\\)`));
  } finally {
    await h.cleanup();
  }
});

test("a proxy password never shows in showconf", async () => {
  const r = await runBurrow(["showconf"], {
    home,
    env: { HTTPS_PROXY: "http://user:s3cret@proxy.example:3128" },
  });
  assert.equal(r.code, 0);
  assert.ok(!r.stdout.includes("s3cret"), r.stdout);
  assert.match(r.stdout, /proxy\.example:3128/);
});

test("global options work before the command name (udocker style) and --repo picks the store", async () => {
  const repo = uniqueRepo("global");
  const pushed = await pushImage("plain", repo, "1", [
    await layerFromEntries([{ path: "g", type: "file", content: "g" }]),
  ]);
  const other = path.join(home.dir, "other-store");
  const r = await runBurrow(["--repo", other, "-q", "pull", pushed.ref], { home, env: plainEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${pushed.ref}\n`, "-q prints only the name");
  assert.equal(r.stderr, "");
  assert.ok(fs.existsSync(path.join(other, "refs")));
  const list = await runBurrow(["images", "--repo", other], { home });
  assert.match(list.stdout, new RegExp(repo));
  const def = await runBurrow(["images"], { home });
  assert.doesNotMatch(def.stdout, new RegExp(repo));
});

test("a pull on a terminal shows per-layer progress with bytes and rate", async () => {
  const repo = uniqueRepo("tty");
  const pushed = await pushImage("plain", repo, "1", [
    await layerFromEntries([{ path: "big", type: "file", content: Buffer.alloc(3 << 20, 7) }]),
    await layerFromEntries([{ path: "small", type: "file", content: "s" }]),
  ]);
  const env = testEnv();
  const cmd = `${process.execPath} -- ${env.cli} pull ${pushed.ref}`;
  const argv = asTestUser(["script", "-qec", cmd, "/dev/null"]);
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...burrowEnv(home.dir, plainEnv()), TERM: "xterm" },
    cwd: home.dir,
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  const code = await new Promise((r) => child.on("close", r));
  assert.equal(code, 0, out);
  assert.match(out, /Pull complete/);
  assert.match(out, /Downloading [\d.]+[kM]?B\/[\d.]+[kM]?B [\d.]+[kMG]?B\/s|Download complete/);
  assert.equal((out.match(/Pull complete/g) ?? []).length >= 2, true);
});

test("verify finds a corrupted blob and a damaged rootfs", async () => {
  const repo = uniqueRepo("verify");
  const pushed = await pushImage("plain", repo, "1", [
    await layerFromEntries([
      { path: "etc/", type: "dir" },
      { path: "etc/conf", type: "file", content: "conf" },
    ]),
  ]);
  const h = await makeTestHome();
  try {
    assert.equal((await runBurrow(["pull", pushed.ref], { home: h, env: plainEnv() })).code, 0);
    assert.equal((await runBurrow(["verify", pushed.ref], { home: h })).code, 0);
    const rootfs = (await runBurrow(["inspect", "-p", pushed.ref], { home: h })).stdout.trim();
    fs.rmSync(path.join(rootfs, "etc/conf"));
    const v1 = await runBurrow(["verify", pushed.ref], { home: h });
    assert.equal(v1.code, 1);
    assert.match(v1.stdout, /DAMAGED/);
    assert.match(v1.stdout, /rootfs has 0 files/);
    const blobs = path.join(h.burrowDir, "blobs", "sha256");
    const inspect = JSON.parse((await runBurrow(["inspect", pushed.ref], { home: h })).stdout) as {
      Manifest: { layers: { digest: string }[] };
    }[];
    const layer = path.join(blobs, inspect[0]!.Manifest.layers[0]!.digest.slice(7));
    fs.appendFileSync(layer, "garbage");
    const v2 = await runBurrow(["verify", pushed.ref], { home: h });
    assert.equal(v2.code, 1);
    assert.match(v2.stdout, /layer 1 sha256:[a-f0-9]{64} is corrupt/);
  } finally {
    await h.cleanup();
  }
});
