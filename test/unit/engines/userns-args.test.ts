// helperArgs: every RunSpec field becomes the burrow-ns argument engines/userns/README.md documents.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RunSpec } from "../../../src/engine-interface.js";
import { escapeField, helperArgs, mountArg, octalMode } from "../../../engines/userns/args.js";
import { envObject } from "../../../engines/common/env.js";

/** A minimal spec: direct writable root, nothing optional. */
function spec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    root: { kind: "direct", path: "/store/images/abc/rootfs", readonly: false },
    argv: ["/bin/sh", "-c", "echo hi"],
    env: ["PATH=/usr/bin:/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    mounts: [],
    sysdirs: false,
    tty: false,
    fakeRoot: false,
    pidNamespace: false,
    ...over,
  };
}

describe("helperArgs", () => {
  test("a minimal spec: rootfs, ids, cwd, then -- and the program untouched", () => {
    assert.deepEqual(helperArgs(spec()), [
      "--rootfs=/store/images/abc/rootfs",
      "--uid=0",
      "--gid=0",
      "--cwd=/",
      "--",
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
  });

  test("a read-only direct root adds --readonly-root", () => {
    const args = helperArgs(spec({ root: { kind: "direct", path: "/r", readonly: true } }));
    assert.deepEqual(args.slice(0, 2), ["--rootfs=/r", "--readonly-root"]);
  });

  test("an overlay root mounts at its mountpoint with LOWER:UPPER:WORK, escaped", () => {
    const args = helperArgs(
      spec({
        root: {
          kind: "overlay",
          lower: "/img/root:fs",
          upper: "/tmp/up\\per",
          work: "/tmp/work",
          mountpoint: "/tmp/m",
        },
      }),
    );
    assert.deepEqual(args.slice(0, 2), [
      "--rootfs=/tmp/m",
      "--overlay=/img/root\\:fs:/tmp/up\\\\per:/tmp/work",
    ]);
    assert.ok(!args.includes("--readonly-root"));
    const ro = helperArgs(
      spec({
        root: { kind: "overlay", lower: "/l", upper: "/u", work: "/w", mountpoint: "/m", readonly: true },
      }),
    );
    assert.deepEqual(ro.slice(0, 3), ["--rootfs=/m", "--readonly-root", "--overlay=/l:/u:/w"]);
  });

  test("a noexec tmpfs says so; mode and size as given", () => {
    const args = helperArgs(
      spec({ mounts: [{ kind: "tmpfs", destination: "/run:x", size: "64m", mode: 0o1777, noexec: true }] }),
    );
    assert.ok(args.includes("--tmpfs=/run\\:x:size=64m:mode=1777:noexec"), args.join(" "));
  });

  test("an overlay whose layer lives in the run's scratch is volatile; a container's own layer is not", () => {
    const root = {
      kind: "overlay" as const,
      lower: "/img",
      upper: "/s/run/upper",
      work: "/s/run/work",
      mountpoint: "/s/run/m",
    };
    assert.equal(helperArgs(spec({ root }), "/s/run")[1], "--overlay=/img:/s/run/upper:/s/run/work:volatile");
    const kept = { ...root, upper: "/store/containers/c/upper", work: "/store/containers/c/work" };
    assert.equal(
      helperArgs(spec({ root: kept }), "/s/run")[1],
      "--overlay=/img:/store/containers/c/upper:/store/containers/c/work",
    );
    assert.ok(!helperArgs(spec({ root }))[1]!.endsWith(":volatile"));
  });

  test("a SquashFS lower: the file, its server, and where the node's runs share its mount (not in build's namespace)", () => {
    const root = {
      kind: "overlay" as const,
      lower: "/s/run/lower",
      upper: "/s/run/upper",
      work: "/s/run/work",
      mountpoint: "/s/run/root",
      squashfs: {
        file: "/store/images/i/rootfs.sqfs",
        squashfuse: "/usr/bin/squashfuse_ll",
        share: "/tmp/b/mounts",
      },
    };
    const args = helperArgs(spec({ root, pidNamespace: true }), "/s/run");
    assert.deepEqual(args.slice(2, 5), [
      "--squashfs=/store/images/i/rootfs.sqfs",
      "--squashfuse=/usr/bin/squashfuse_ll",
      "--squashfs-share=/tmp/b/mounts",
    ]);
    const build = helperArgs(spec({ root, pidNamespace: true, realIds: true }), "/s/run");
    assert.ok(!build.some((a) => a.startsWith("--squashfs-share")), "--map-all mounts its own");
    const unshared = {
      ...root,
      squashfs: { file: root.squashfs.file, squashfuse: root.squashfs.squashfuse },
    };
    assert.ok(
      !helperArgs(spec({ root: unshared, pidNamespace: true })).some((a) => a.startsWith("--squashfs-share")),
    );
  });

  test("uid, gid, hostname, pid namespace, fake root and cwd", () => {
    const args = helperArgs(
      spec({ uid: 1000, gid: 100, hostname: "box", pidNamespace: true, fakeRoot: true, cwd: "/work dir" }),
    );
    const opts = args.slice(0, args.indexOf("--"));
    assert.deepEqual(opts, [
      "--rootfs=/store/images/abc/rootfs",
      "--uid=1000",
      "--gid=100",
      "--hostname=box",
      "--pid",
      "--fake-root",
      "--cwd=/work dir",
    ]);
  });

  test("no hostname keeps the host's UTS namespace", () => {
    assert.ok(!helperArgs(spec({ hostname: undefined })).some((a) => a.startsWith("--hostname")));
  });

  test("sysdirs become --proc --dev --sys before the planned mounts, which keep their order", () => {
    const args = helperArgs(
      spec({
        sysdirs: true,
        pidNamespace: true,
        mounts: [
          {
            kind: "bind",
            source: "/etc/resolv.conf",
            destination: "/etc/resolv.conf",
            readonly: true,
            optional: true,
          },
          { kind: "tmpfs", destination: "/tmp", mode: 0o1777 },
          { kind: "bind", source: "/home/u/work", destination: "/work", readonly: false, create: true },
          { kind: "bind", source: "/dev/shm", destination: "/dev/shm", readonly: false },
        ],
      }),
    );
    const opts = args.slice(args.indexOf("--cwd=/") + 1, args.indexOf("--"));
    assert.deepEqual(opts, [
      "--proc",
      "--dev",
      "--sys",
      "--bind=/etc/resolv.conf:/etc/resolv.conf:ro:opt",
      "--tmpfs=/tmp:mode=1777",
      "--bind=/home/u/work:/work:mkdir",
      "--bind=/dev/shm:/dev/shm",
    ]);
  });

  test("a program argument that looks like an option stays after --", () => {
    const args = helperArgs(spec({ argv: ["--rootfs", "--", "-x"] }));
    assert.deepEqual(args.slice(args.indexOf("--")), ["--", "--rootfs", "--", "-x"]);
  });

  test("an empty argv is refused", () => {
    assert.throws(() => helperArgs(spec({ argv: [] })), RangeError);
  });
});

describe("mount arguments", () => {
  test("bind flags: ro, opt, mkdir in that order", () => {
    assert.equal(
      mountArg({
        kind: "bind",
        source: "/a",
        destination: "/b",
        readonly: true,
        optional: true,
        create: true,
      }),
      "--bind=/a:/b:ro:opt:mkdir",
    );
    assert.equal(
      mountArg({ kind: "bind", source: "/a", destination: "/b", readonly: false }),
      "--bind=/a:/b",
    );
  });

  test("bind paths with ':' and '\\' are escaped", () => {
    assert.equal(
      mountArg({ kind: "bind", source: "/data/a:b", destination: "/x\\y:z", readonly: true }),
      "--bind=/data/a\\:b:/x\\\\y\\:z:ro",
    );
  });

  test("tmpfs size and mode", () => {
    assert.equal(mountArg({ kind: "tmpfs", destination: "/run" }), "--tmpfs=/run");
    assert.equal(mountArg({ kind: "tmpfs", destination: "/run", size: "64m" }), "--tmpfs=/run:size=64m");
    assert.equal(
      mountArg({ kind: "tmpfs", destination: "/t:mp", size: "10%", mode: 0o755 }),
      "--tmpfs=/t\\:mp:size=10%:mode=0755",
    );
  });

  test("escapeField escapes backslashes before colons", () => {
    assert.equal(escapeField("plain/path"), "plain/path");
    assert.equal(escapeField("a:b"), "a\\:b");
    assert.equal(escapeField("a\\b"), "a\\\\b");
    assert.equal(escapeField("\\:"), "\\\\\\:");
  });

  test("octalMode pads to four digits and refuses non-modes", () => {
    assert.equal(octalMode(0o755), "0755");
    assert.equal(octalMode(0o1777), "1777");
    assert.equal(octalMode(0), "0000");
    assert.throws(() => octalMode(0o10000), RangeError);
    assert.throws(() => octalMode(-1), RangeError);
    assert.throws(() => octalMode(1.5), RangeError);
  });
});

describe("envObject", () => {
  test("splits at the first '=' and keeps empty values", () => {
    assert.deepEqual(envObject(["A=1", "B=x=y", "C="]), { A: "1", B: "x=y", C: "" });
  });

  test("a later entry for the same name wins", () => {
    assert.deepEqual(envObject(["A=1", "A=2"]), { A: "2" });
  });

  test("an entry without a name or '=' is refused", () => {
    assert.throws(() => envObject(["NOEQUALS"]), RangeError);
    assert.throws(() => envObject(["=value"]), RangeError);
  });
});
