// prootArgs and friends: every RunSpec field becomes the PRoot option engines/proot/README.md documents, or a clear refusal.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RunSpec } from "../../../src/engine-interface.js";
import {
  bindArg,
  checkSupported,
  identityArgs,
  INIT_PATH,
  initWords,
  prootArgs,
  prootEnv,
} from "../../../engines/proot/args.js";
import { ProotOptionError } from "../../../engines/proot/errors.js";
import { featuresOf, parseProotVersion, versionNumber } from "../../../engines/proot/version.js";

/** A minimal spec: direct writable root, nothing optional. */
function spec(over: Partial<RunSpec> = {}): RunSpec {
  return {
    root: { kind: "direct", path: "/scratch/rootfs", readonly: false },
    argv: ["/bin/sh", "-c", "echo hi"],
    env: ["PATH=/usr/bin:/bin"],
    cwd: "/",
    uid: 0,
    gid: 0,
    mounts: [],
    sysdirs: false,
    tty: false,
    fakeRoot: true,
    pidNamespace: false,
    ...over,
  };
}

const OLD = { killOnExit: false };

describe("prootArgs", () => {
  test("a minimal spec: quiet, rootfs, fake root, cwd, then the program untouched (no -k, no --)", () => {
    assert.deepEqual(prootArgs(spec(), [], OLD), [
      "-v",
      "-1",
      "-r",
      "/scratch/rootfs",
      "-0",
      "-w",
      "/",
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
  });

  test("the container init goes between PRoot's options and the program, on the lifeline, told it runs under PRoot", () => {
    const args = prootArgs(
      spec(),
      [{ source: "/pkg/burrow-runc-init", destination: INIT_PATH }],
      OLD,
      initWords(),
    );
    assert.deepEqual(args.slice(7), [
      "-b",
      `/pkg/burrow-runc-init:${INIT_PATH}`,
      INIT_PATH,
      "--init",
      "--lifeline=3",
      "--proot",
      "--",
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
  });

  test("binds in order as -b SRC:DST, then --kill-on-exit where PRoot has it", () => {
    const args = prootArgs(
      spec({ cwd: "/work" }),
      [
        { source: "/proc", destination: "/proc" },
        { source: "/home/u/data", destination: "/data" },
      ],
      { killOnExit: true },
    );
    assert.deepEqual(args.slice(4), [
      "-0",
      "-w",
      "/work",
      "-b",
      "/proc:/proc",
      "-b",
      "/home/u/data:/data",
      "--kill-on-exit",
      "/bin/sh",
      "-c",
      "echo hi",
    ]);
    assert.ok(!args.includes("-k"), "never -k");
  });

  test("arguments that look like options after the program are passed as they are", () => {
    const args = prootArgs(spec({ argv: ["/bin/echo", "-r", "-b", "--kill-on-exit"] }), [], OLD);
    assert.deepEqual(args.slice(-4), ["/bin/echo", "-r", "-b", "--kill-on-exit"]);
  });
});

describe("identityArgs", () => {
  test("-0 for root:root, -i UID:GID otherwise (root with another group stays root)", () => {
    assert.deepEqual(identityArgs(0, 0), ["-0"]);
    assert.deepEqual(identityArgs(1234, 1234), ["-i", "1234:1234"]);
    assert.deepEqual(identityArgs(0, 1234), ["-i", "0:1234"]);
    assert.deepEqual(identityArgs(65534, 65534), ["-i", "65534:65534"]);
  });
});

describe("checkSupported", () => {
  const refuses = (s: RunSpec, message: RegExp): void =>
    assert.throws(
      () => checkSupported(s),
      (err: unknown) => err instanceof ProotOptionError && message.test(err.message),
    );

  test("--hostname is refused, naming the engine and the option", () => {
    refuses(spec({ hostname: "box" }), /proot engine cannot honour --hostname box/);
  });

  test("a read-only volume is refused, naming the engine and the volume", () => {
    refuses(
      spec({ mounts: [{ kind: "bind", source: "/h/d", destination: "/d", readonly: true }] }),
      /proot engine cannot make -v \/h\/d:\/d:ro read-only/,
    );
  });

  test("a noexec tmpfs is refused, naming the way out (:exec)", () => {
    refuses(
      spec({ mounts: [{ kind: "tmpfs", destination: "/run", mode: 0o1777, noexec: true }] }),
      /proot engine cannot make the tmpfs at \/run noexec \(docker's default for --tmpfs\).*--tmpfs \/run:exec/,
    );
  });

  test("a read-only root is refused", () => {
    refuses(spec({ root: { kind: "direct", path: "/r", readonly: true } }), /root read-only/);
  });

  test("a program starting with - is refused (PRoot has no --)", () => {
    refuses(spec({ argv: ["-x"] }), /PRoot would read it as its own option/);
  });

  test("an overlay root is a programming error, not a user's", () => {
    assert.throws(
      () =>
        checkSupported(
          spec({ root: { kind: "overlay", lower: "/l", upper: "/u", work: "/w", mountpoint: "/m" } }),
        ),
      (err: unknown) =>
        err instanceof Error && !(err instanceof ProotOptionError) && /overlay root/.test(err.message),
    );
  });

  test("an empty argv is a RangeError", () => {
    assert.throws(() => checkSupported(spec({ argv: [] })), RangeError);
  });

  test("what PRoot can do passes: rw binds, tmpfs, sysdirs, a pid namespace asked for", () => {
    checkSupported(
      spec({
        sysdirs: true,
        pidNamespace: true,
        mounts: [
          { kind: "bind", source: "/a", destination: "/b", readonly: false, create: true },
          { kind: "tmpfs", destination: "/t", mode: 0o1777 },
        ],
      }),
    );
  });
});

describe("bindArg", () => {
  test("SRC:DST", () => {
    assert.equal(bindArg({ source: "/a b", destination: "/c" }), "/a b:/c");
  });

  test("a ':' in either path, or a trailing '!' on the guest side, is refused", () => {
    assert.throws(() => bindArg({ source: "/a:b", destination: "/c" }), ProotOptionError);
    assert.throws(() => bindArg({ source: "/a", destination: "/c:d" }), ProotOptionError);
    assert.throws(() => bindArg({ source: "/a", destination: "/c!" }), ProotOptionError);
  });
});

describe("prootEnv", () => {
  test("the program's environment, PROOT_TMP_DIR, and PROOT_NO_SECCOMP only when asked", () => {
    assert.deepEqual(prootEnv(["A=1", "B=x=y", "A=2"], { tmpDir: "/s/t", noSeccomp: false }), {
      A: "2",
      B: "x=y",
      PROOT_TMP_DIR: "/s/t",
    });
    assert.equal(prootEnv([], { tmpDir: "/s/t", noSeccomp: true }).PROOT_NO_SECCOMP, "1");
  });
});

describe("parseProotVersion", () => {
  test("upstream's banner with its accelerators line", () => {
    const out =
      " _____ _____              ___\n|__|  |__|__\\_____/\\_____/\\____| 5.1.0\n\n" +
      "built-in accelerators: process_vm = yes, seccomp_filter = no\n";
    assert.deepEqual(parseProotVersion(out), { version: "5.1.0", seccomp: false });
    assert.deepEqual(parseProotVersion(out.replace("= no", "= yes").replace("5.1.0", "5.3.0")), {
      version: "5.3.0",
      seccomp: true,
    });
  });

  test("a plain `proot X.Y.Z` line; no version at all", () => {
    assert.deepEqual(parseProotVersion("proot v5.4.0\n"), { version: "5.4.0", seccomp: undefined });
    assert.equal(parseProotVersion("usage: something else\n"), undefined);
  });

  test("versions compare; --kill-on-exit is not assumed before 5.2", () => {
    assert.ok(versionNumber("5.3.0") > versionNumber("5.1.0"));
    assert.equal(featuresOf("5.1.0").killOnExit, false);
    assert.equal(featuresOf("5.3.0").killOnExit, true);
  });
});
