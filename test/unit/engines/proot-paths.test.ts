// The proot engine's view of the guest: path resolution through symlinks and binds, program lookup, prepared binds.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunSpec } from "../../../src/engine-interface.js";
import { findProgram, hostPathOf, resolveGuest } from "../../../engines/proot/guest-path.js";
import { prepareBinds } from "../../../engines/proot/mounts.js";

let dir: string;
let root: string;
let host: string;
let scratch: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "proot-paths-"));
  root = path.join(dir, "root");
  host = path.join(dir, "host");
  scratch = path.join(dir, "scratch");
  for (const d of ["usr/bin", "etc", "run", "var", "opt/app"])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.mkdirSync(host);
  fs.mkdirSync(scratch);
  fs.symlinkSync("usr/bin", path.join(root, "bin"));
  fs.symlinkSync("/run", path.join(root, "var/run"));
  fs.symlinkSync("../../../../..", path.join(root, "opt/app/up"));
  fs.writeFileSync(path.join(root, "usr/bin/sh"), "", { mode: 0o755 });
  fs.writeFileSync(path.join(root, "etc/passwd"), "", { mode: 0o644 });
  fs.writeFileSync(path.join(root, "usr/bin/noexec"), "", { mode: 0o644 });
  fs.writeFileSync(path.join(host, "tool"), "", { mode: 0o755 });
  fs.writeFileSync(path.join(host, "conf"), "x");
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("resolveGuest", () => {
  test("relative and absolute symlinks resolve inside the guest root", () => {
    assert.equal(resolveGuest(root, [], "/bin/sh").guest, "/usr/bin/sh");
    const r = resolveGuest(root, [], "/var/run/x");
    assert.equal(r.guest, "/run/x");
    assert.equal(r.host, path.join(root, "run/x"));
    assert.equal(r.stat, undefined);
  });

  test("`..` stops at the guest root", () => {
    assert.equal(resolveGuest(root, [], "/opt/app/up/etc/passwd").host, path.join(root, "etc/passwd"));
  });

  test("binds map a guest prefix to the host; the longest wins", () => {
    const binds = [
      { source: host, destination: "/mnt" },
      { source: path.join(host, "conf"), destination: "/mnt/c" },
    ];
    assert.equal(hostPathOf(root, binds, "/mnt/tool"), path.join(host, "tool"));
    assert.equal(hostPathOf(root, binds, "/mnt/c"), path.join(host, "conf"));
    assert.equal(hostPathOf(root, binds, "/mntx"), path.join(root, "mntx"));
    assert.ok(resolveGuest(root, binds, "/mnt/tool").stat?.isFile());
  });
});

describe("findProgram", () => {
  const find = (p: string, searchPath?: string, binds = [{ source: host, destination: "/h" }]) =>
    findProgram(root, binds, p, searchPath, "/");

  test("a name is searched in PATH, through symlinks and binds", () => {
    assert.deepEqual(find("sh", "/bin"), { ok: true, guest: "/usr/bin/sh" });
    assert.deepEqual(find("tool", "/nope:/h"), { ok: true, guest: "/h/tool" });
    assert.deepEqual(find("sh", undefined), { ok: true, guest: "/usr/bin/sh" }, "no PATH: /bin:/usr/bin");
  });

  test("127 for a missing name or path, naming it", () => {
    assert.deepEqual(find("nope", "/bin"), { ok: false, status: 127, message: "nope: command not found" });
    assert.deepEqual(find("/no/such", "/bin"), {
      ok: false,
      status: 127,
      message: "/no/such: No such file or directory",
    });
  });

  test("126 for a directory or a file without an execute bit", () => {
    assert.equal((find("/etc") as { status: number }).status, 126);
    assert.equal((find("/etc/passwd") as { status: number }).status, 126);
    assert.equal((find("noexec", "/usr/bin") as { status: number }).status, 126);
  });
});

describe("prepareBinds", () => {
  const base = (over: Partial<RunSpec>): RunSpec => ({
    root: { kind: "direct", path: root, readonly: false },
    argv: ["sh"],
    env: [],
    cwd: "/",
    uid: 0,
    gid: 0,
    mounts: [],
    sysdirs: false,
    tty: false,
    fakeRoot: true,
    pidNamespace: true,
    ...over,
  });

  test("sysdirs first; missing destinations made (a folder for a folder, a file for a file)", () => {
    const binds = prepareBinds(
      base({
        sysdirs: true,
        mounts: [
          { kind: "bind", source: host, destination: "/deep/new/dir", readonly: false, create: true },
          {
            kind: "bind",
            source: path.join(host, "conf"),
            destination: "/etc/x/f.conf",
            readonly: false,
            create: true,
          },
        ],
      }),
      root,
      scratch,
    );
    assert.deepEqual(
      binds.map((b) => b.destination),
      ["/proc", "/dev", "/sys", "/deep/new/dir", "/etc/x/f.conf"],
    );
    assert.ok(fs.statSync(path.join(root, "deep/new/dir")).isDirectory());
    assert.ok(fs.statSync(path.join(root, "etc/x/f.conf")).isFile());
  });

  test("a destination through a symlink is bound where the symlink leads", () => {
    const binds = prepareBinds(
      base({
        mounts: [{ kind: "bind", source: host, destination: "/var/run/h", readonly: false, create: true }],
      }),
      root,
      scratch,
    );
    assert.equal(binds[0]?.destination, "/run/h");
  });

  test("a tmpfs becomes a fresh folder under scratch with its mode; optional missing sources are skipped", () => {
    const binds = prepareBinds(
      base({
        mounts: [
          { kind: "tmpfs", destination: "/tmp", mode: 0o1777 },
          { kind: "bind", source: "/no/such/src", destination: "/x", readonly: false, optional: true },
        ],
      }),
      root,
      scratch,
    );
    assert.equal(binds.length, 1);
    assert.equal(binds[0]!.destination, "/tmp");
    assert.ok(binds[0]!.source.startsWith(scratch));
    assert.equal(fs.statSync(binds[0]!.source).mode & 0o7777, 0o1777);
  });

  test("a missing required source is the engine's failure naming it", () => {
    assert.throws(
      () =>
        prepareBinds(
          base({ mounts: [{ kind: "bind", source: "/no/such/src", destination: "/x", readonly: false }] }),
          root,
          scratch,
        ),
      /\/no\/such\/src/,
    );
  });
});
