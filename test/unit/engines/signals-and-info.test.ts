// Signal forwarding rules (which signals the terminal already delivered) and the host facts of `burrow info`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { inForegroundOfTerminal, parseStat, shouldForward } from "../../../engines/common/signals.js";
import { cgroupVersion, kernelAtLeast, unifiedCgroupPath, usernsAllowed } from "../../../src/cli/info.js";

describe("signal forwarding", () => {
  test("parseStat reads pgrp, tty and the terminal's foreground group past an odd command name", () => {
    const line = "4242 (node (x) y) S 1 4242 4242 34816 4242 4194304 0 0";
    assert.deepEqual(parseStat(line), { pgrp: 4242, ttyNr: 34816, tpgid: 4242 });
    assert.equal(parseStat("garbage"), undefined);
  });

  test("burrow is in the foreground only with a terminal whose foreground group is burrow's", () => {
    assert.equal(
      inForegroundOfTerminal(() => "1 (b) S 1 100 100 34816 100 0"),
      true,
    );
    assert.equal(
      inForegroundOfTerminal(() => "1 (b) S 1 100 100 34816 200 0"),
      false,
    );
    assert.equal(
      inForegroundOfTerminal(() => "1 (b) S 1 100 100 0 -1 0"),
      false,
    );
    assert.equal(
      inForegroundOfTerminal(() => {
        throw new Error("no /proc");
      }),
      false,
    );
  });

  test("terminal signals are not forwarded while burrow's group is the foreground (the helper got them)", () => {
    for (const s of ["SIGINT", "SIGQUIT", "SIGWINCH", "SIGHUP"] as const) {
      assert.equal(
        shouldForward(s, () => true),
        false,
        s,
      );
      assert.equal(
        shouldForward(s, () => false),
        true,
        s,
      );
    }
    for (const s of ["SIGTERM", "SIGUSR1", "SIGUSR2"] as const)
      assert.equal(
        shouldForward(s, () => true),
        true,
        s,
      );
  });
});

describe("burrow info facts", () => {
  test("kernelAtLeast compares major.minor of a release string", () => {
    assert.equal(kernelAtLeast("5.11.0-1-amd64", 5, 11), true);
    assert.equal(kernelAtLeast("5.10.209", 5, 11), false);
    assert.equal(kernelAtLeast("6.1.0-18-amd64", 5, 11), true);
    assert.equal(kernelAtLeast("4.18.0-553.el8", 5, 11), false);
    assert.equal(kernelAtLeast("weird", 5, 11), false);
  });

  test("cgroupVersion from the file system types", () => {
    const types = (m: Record<string, number>) => (dir: string) => m[dir];
    assert.equal(cgroupVersion(types({ "/sys/fs/cgroup": 0x63677270 })), "v2");
    assert.equal(
      cgroupVersion(types({ "/sys/fs/cgroup": 0x01021994, "/sys/fs/cgroup/unified": 0x63677270 })),
      "hybrid",
    );
    assert.equal(cgroupVersion(types({ "/sys/fs/cgroup": 0x01021994 })), "v1");
    assert.equal(cgroupVersion(types({})), "none");
  });

  test("unifiedCgroupPath takes the 0:: line", () => {
    assert.equal(
      unifiedCgroupPath("1:cpu:/\n0::/user.slice/user-1000.slice\n"),
      "/user.slice/user-1000.slice",
    );
    assert.equal(unifiedCgroupPath("1:cpu:/\n"), undefined);
  });

  test("user namespaces: the probe's answer, else the settings, else unknown", () => {
    assert.equal(usernsAllowed({ ok: true, binary: "/b", version: "1" }, false), true);
    assert.equal(usernsAllowed({ ok: false, reason: "r" }, true), false);
    assert.equal(usernsAllowed({ ok: false, reason: "unshare failed", binary: "/b" }, false), false);
    assert.equal(usernsAllowed({ ok: false, reason: "not built" }, false), null);
  });
});
