// ociConfig: every RunSpec field becomes the config.json engines/runc/README.md documents; runc's log is read back.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RunSpec } from "../../../src/engine-interface.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  escapeOverlayPath,
  INIT_PATH,
  ociConfig,
  processArgs,
  usesLifeline,
} from "../../../engines/runc/config.js";
import type { BundleOptions } from "../../../engines/runc/config.js";
import { fakeRootSeccomp, seccompArchitectures } from "../../../engines/runc/seccomp.js";
import { classify, isRuntimeMessage } from "../../../engines/runc/failure.js";
import {
  createEngine,
  parseFlavor,
  parseRuntimeVersion,
  versionAtLeast,
} from "../../../engines/runc/index.js";
import { kernelAtLeast } from "../../../src/kernel.js";

const INIT = "/pkg/vendor/linux-x64/burrow-runc-init";

function spec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    root: { kind: "direct", path: "/store/images/abc/rootfs", readonly: false },
    argv: ["/bin/sh", "-c", "echo hi"],
    env: ["PATH=/usr/bin:/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    mounts: [],
    sysdirs: true,
    tty: false,
    fakeRoot: false,
    pidNamespace: true,
    ...over,
  };
}

function opts(over: Partial<BundleOptions> = {}): BundleOptions {
  return {
    hostUid: 1001,
    hostGid: 1002,
    init: INIT,
    terminal: false,
    emptyDev: "/scratch/bundle/empty-dev",
    arch: "x64",
    exists: () => true,
    ...over,
  };
}

describe("ociConfig", () => {
  test("a SquashFS image: runc runs in the shared mount's user namespace, so the config asks for none, and no mappings", () => {
    const root = {
      kind: "overlay" as const,
      lower: "/s/lower",
      upper: "/s/upper",
      work: "/s/work",
      mountpoint: "/s/root",
      squashfs: {
        file: "/store/images/i/rootfs.sqfs",
        squashfuse: "/usr/bin/squashfuse_ll",
        share: "/tmp/m",
      },
    };
    const c = ociConfig(spec({ root }), opts());
    assert.equal(c.linux.uidMappings, undefined);
    assert.equal(c.linux.gidMappings, undefined);
    assert.ok(!c.linux.namespaces.some((n) => n.type === "user"));
    assert.ok(c.linux.namespaces.some((n) => n.type === "mount"));
    assert.match(JSON.stringify(c.mounts[0]), /lowerdir=\/s\/lower/);
  });

  test("kernelAtLeast reads uname -r", () => {
    assert.ok(kernelAtLeast("6.1.0-18-amd64", 5, 2));
    assert.ok(kernelAtLeast("5.2.0", 5, 2));
    assert.ok(!kernelAtLeast("5.1.21", 5, 2));
    assert.ok(!kernelAtLeast("4.18.0-513.el8.x86_64", 5, 2));
    assert.ok(!kernelAtLeast("unknown", 5, 2));
  });

  test("container root maps to the invoking user alone; no network or cgroup namespace, no resources", () => {
    const c = ociConfig(spec(), opts());
    assert.deepEqual(c.linux.uidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
    assert.deepEqual(c.linux.gidMappings, [{ containerID: 0, hostID: 1002, size: 1 }]);
    assert.deepEqual(
      c.linux.namespaces.map((n) => n.type),
      ["user", "mount", "ipc", "pid"],
    );
    assert.equal("resources" in c.linux, false);
    assert.equal("cgroupsPath" in c.linux, false);
    assert.equal(c.process.noNewPrivileges, true);
    assert.deepEqual(c.process.user, { uid: 0, gid: 0 });
    assert.equal(c.hostname, undefined);
  });

  test("a host name adds a UTS namespace; no pid namespace without pidNamespace", () => {
    const c = ociConfig(spec({ hostname: "box", pidNamespace: false }), opts());
    assert.equal(c.hostname, "box");
    assert.deepEqual(
      c.linux.namespaces.map((n) => n.type),
      ["user", "mount", "ipc", "uts"],
    );
  });

  test("root with a pid namespace runs through the init; env and cwd are passed as they are", () => {
    const c = ociConfig(spec({ env: ["A=b=c", "PATH=/x"], cwd: "/work" }), opts());
    assert.deepEqual(c.process.args, [INIT_PATH, "--init", "--lifeline=3", "--", "/bin/sh", "-c", "echo hi"]);
    assert.equal(usesLifeline(c.process.args), true, "runc must pass the lifeline on (--preserve-fds 1)");
    assert.deepEqual(c.process.env, ["A=b=c", "PATH=/x"]);
    assert.equal(c.process.cwd, "/work");
    const bind = c.mounts.find((m) => m.destination === INIT_PATH);
    assert.deepEqual(bind, { destination: INIT_PATH, type: "bind", source: INIT, options: ["bind", "ro"] });
  });

  test("a non-root user or group is made in a nested user namespace by the init", () => {
    assert.deepEqual(processArgs(spec({ uid: 1234, gid: 1234 }), INIT), [
      INIT_PATH,
      "--uid=1234",
      "--gid=1234",
      "--init",
      "--lifeline=3",
      "--",
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
    assert.deepEqual(processArgs(spec({ gid: 5, pidNamespace: false }), INIT).slice(0, 4), [
      INIT_PATH,
      "--uid=0",
      "--gid=5",
      "--",
    ]);
  });

  test("only an init that is pid 1 is on the lifeline; a program's own --lifeline=3 does not count", () => {
    assert.equal(usesLifeline(processArgs(spec({ pidNamespace: false, uid: 1 }), INIT)), false);
    assert.equal(usesLifeline(["/bin/sh", "--lifeline=3"]), false);
    assert.equal(usesLifeline([INIT_PATH, "--uid=1", "--gid=1", "--", "prog", "--lifeline=3"]), false);
  });

  test("without the init: root runs directly, a non-root user is a one-line refusal naming runc", () => {
    assert.deepEqual(processArgs(spec(), undefined), ["/bin/sh", "-c", "echo hi"]);
    assert.throws(
      () => processArgs(spec({ uid: 1234, gid: 1234 }), undefined),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /engine runc/.test(e.message) && /1234/.test(e.message),
    );
    assert.throws(() => processArgs(spec({ sysdirs: false, pidNamespace: false }), undefined), /--nosysdirs/);
    assert.throws(() => processArgs(spec({ uid: 7, sysdirs: false }), INIT), /--nosysdirs/);
    assert.throws(() => processArgs(spec({ argv: [] }), INIT), RangeError);
  });

  test("system directories: fresh proc, private /dev with devpts and shm, /sys bound read-only recursively", () => {
    const c = ociConfig(spec(), opts());
    const byDest = new Map(c.mounts.map((m) => [m.destination, m]));
    assert.equal(byDest.get("/proc")?.type, "proc");
    assert.equal(byDest.get("/dev")?.type, "tmpfs");
    assert.ok(byDest.get("/dev/pts")?.options?.includes("newinstance"));
    assert.ok(byDest.get("/dev/shm")?.options?.includes("mode=1777"));
    assert.deepEqual(byDest.get("/sys")?.options, ["rbind", "nosuid", "noexec", "nodev", "ro", "rro"]);
  });

  test("--nosysdirs: runc's /proc and /dev/null are detached by the init, /dev is an empty folder", () => {
    const c = ociConfig(spec({ sysdirs: false, pidNamespace: false }), opts());
    assert.deepEqual(
      c.mounts.map((m) => [m.destination, m.source]),
      [
        ["/proc", "/proc"],
        ["/dev", "/scratch/bundle/empty-dev"],
        ["/dev/null", "/dev/null"],
        [INIT_PATH, INIT],
      ],
    );
    assert.deepEqual(c.process.args.slice(0, 5), [
      INIT_PATH,
      "--unmount=/proc",
      "--drop=/dev/null",
      `--drop=${INIT_PATH}`,
      "--",
    ]);
  });

  test("planned mounts in order: rbind rw/ro+rro, tmpfs, optional binds skipped when missing", () => {
    const c = ociConfig(
      spec({
        sysdirs: false,
        pidNamespace: false,
        mounts: [
          { kind: "bind", source: "/h/a", destination: "/a", readonly: false },
          { kind: "bind", source: "/h/b", destination: "/b", readonly: true },
          { kind: "bind", source: "/h/gone", destination: "/c", readonly: false, optional: true },
          { kind: "tmpfs", destination: "/t", size: "10m", mode: 0o1777 },
        ],
      }),
      opts({ exists: (f) => f !== "/h/gone" }),
    );
    const planned = c.mounts.slice(4);
    assert.deepEqual(planned, [
      { destination: "/a", type: "bind", source: "/h/a", options: ["rbind", "rw"] },
      { destination: "/b", type: "bind", source: "/h/b", options: ["rbind", "ro", "rro"] },
      {
        destination: "/t",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "size=10m", "mode=1777"],
      },
    ]);
  });

  test("a direct root is root.path with its read-only flag; an overlay root is the first mount, at /", () => {
    const d = ociConfig(spec({ root: { kind: "direct", path: "/r", readonly: true } }), opts());
    assert.deepEqual(d.root, { path: "/r", readonly: true });
    const o = ociConfig(
      spec({ root: { kind: "overlay", lower: "/l,1", upper: "/u:2", work: "/w", mountpoint: "/m" } }),
      opts(),
    );
    assert.deepEqual(o.root, { path: "/m", readonly: false });
    assert.deepEqual(o.mounts[0], {
      destination: "/",
      type: "overlay",
      source: "overlay",
      options: ["lowerdir=/l\\,1", "upperdir=/u\\:2", "workdir=/w", "userxattr"],
    });
    assert.equal(escapeOverlayPath("a\\b"), "a\\\\b");
    const ro = ociConfig(
      spec({
        root: { kind: "overlay", lower: "/l", upper: "/u", work: "/w", mountpoint: "/m", readonly: true },
      }),
      opts(),
    );
    assert.deepEqual(
      ro.root,
      { path: "/m", readonly: true },
      "--read-only: runc remounts the overlay at / read-only",
    );
  });

  test("a noexec tmpfs gets noexec", () => {
    const c = ociConfig(spec({ mounts: [{ kind: "tmpfs", destination: "/t", noexec: true }] }), opts());
    assert.deepEqual(c.mounts.at(-1)?.options, ["nosuid", "nodev", "noexec", "mode=0755"]);
  });

  test("terminal only when asked; fake root adds the seccomp filter, and only then", () => {
    assert.equal(ociConfig(spec(), opts({ terminal: true })).process.terminal, true);
    assert.equal(ociConfig(spec(), opts()).linux.seccomp, undefined);
    const s = ociConfig(spec({ fakeRoot: true }), opts()).linux.seccomp;
    assert.deepEqual(s, fakeRootSeccomp("x64"));
  });
});

describe("fakeRootSeccomp", () => {
  test("chown and setuid families return 0; mknod only for devices; every ABI of the machine", () => {
    const s = fakeRootSeccomp("x64");
    assert.equal(s.defaultAction, "SCMP_ACT_ALLOW");
    assert.deepEqual(s.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    const all = s.syscalls[0]!;
    for (const n of ["chown", "fchownat", "setresuid", "setgroups", "lchown32"])
      assert.ok(all.names.includes(n), n);
    assert.equal(all.errnoRet, 0);
    const mknod = s.syscalls.filter((r) => r.names[0] === "mknod");
    assert.deepEqual(
      mknod.map((r) => r.args?.[0]),
      [
        { index: 1, value: 0o170000, valueTwo: 0o020000, op: "SCMP_CMP_MASKED_EQ" },
        { index: 1, value: 0o170000, valueTwo: 0o060000, op: "SCMP_CMP_MASKED_EQ" },
      ],
    );
    assert.equal(s.syscalls.filter((r) => r.names[0] === "mknodat")[0]?.args?.[0]?.index, 2);
    assert.deepEqual(seccompArchitectures("mips"), []);
  });
});

describe("runc's log and version", () => {
  const line = (msg: string, level = "error") => JSON.stringify({ level, msg, time: "t" });

  test("exec failures become 127/126 with one burrow line; runc's own errors are engine failures", () => {
    const warn = line("unable to get oom kill count", "warning");
    assert.deepEqual(classify(`${warn}\n`), { kind: "ran" });
    assert.deepEqual(
      classify(
        `${warn}\n${line('runc run failed: unable to start container process: exec: "nope": executable file not found in $PATH')}\n`,
      ),
      { kind: "exec", status: 127, message: "burrow: nope: command not found" },
    );
    assert.deepEqual(
      classify(
        line(
          'runc run failed: unable to start container process: exec: "/no/such": stat /no/such: no such file or directory',
        ),
      ),
      { kind: "exec", status: 127, message: "burrow: /no/such: No such file or directory" },
    );
    assert.deepEqual(
      classify(line('runc run failed: unable to start container process: exec: "/etc": permission denied')),
      {
        kind: "exec",
        status: 126,
        message: "burrow: /etc: cannot execute: Permission denied",
      },
    );
    assert.deepEqual(classify(line("runc run failed: unable to setup user: stat /dev/null: no such file")), {
      kind: "engine",
      message: "unable to setup user: stat /dev/null: no such file",
    });
    assert.equal(isRuntimeMessage("runc run failed: x\n"), true);
    assert.equal(isRuntimeMessage("err\n"), false);
  });

  test("versions, minimums and flavors", () => {
    assert.deepEqual(parseRuntimeVersion("runc version 1.1.5+ds1\ncommit: x\n"), {
      flavor: "runc",
      version: "1.1.5",
    });
    assert.deepEqual(parseRuntimeVersion("crun version 1.8\n"), { flavor: "crun", version: "1.8" });
    assert.equal(parseRuntimeVersion("hello"), undefined);
    assert.equal(versionAtLeast("1.1.5", [1, 1]), true);
    assert.equal(versionAtLeast("1.0.3", [1, 1]), false);
    assert.equal(versionAtLeast("2.0", [1, 1]), true);
    assert.equal(parseFlavor(undefined), "runc");
    assert.equal(parseFlavor("runc:crun"), "crun");
    assert.equal(parseFlavor("R2"), undefined, "udocker's R2 is runc with emulated root, not crun");
    assert.equal(parseFlavor("podman"), undefined);
  });

  test("the registry's factory takes the setting's variant: runc:crun runs crun; an unknown variant is refused", () => {
    assert.equal(createEngine({ storeRoot: undefined, env: {}, variant: "crun" }).flavor, "crun");
    assert.equal(createEngine({ storeRoot: undefined, env: {} }).flavor, "runc");
    assert.equal(createEngine({ storeRoot: undefined, env: { BURROW_RUNC_FLAVOR: "crun" } }).flavor, "crun");
    assert.throws(
      () => createEngine({ storeRoot: undefined, env: {}, variant: "R2" }),
      /the runc engine has no variant "R2": use runc or runc:crun/,
    );
  });
});
