// CDI specs (src/run/cdi.ts): --device values, spec checking, JSON and YAML loading, edits, priorities.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  applyDeviceEdits,
  cdiDirs,
  cdiEdits,
  checkSpec,
  hostDeviceEdits,
  libraryAliases,
  loadSpecs,
  parseDeviceRequest,
  resolveDevices,
} from "../../../src/run/cdi.js";
import type { LoadedSpecs } from "../../../src/run/cdi.js";
import type { MountSpec } from "../../../src/engine-interface.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import { fakeHost } from "./fake-host.js";

const host = fakeHost({
  "/dev/null": "char",
  "/dev/zero": "char",
  "/dev/sda": "block",
  "/opt/vendor/lib": "dir",
  "/opt/vendor/bin/fake-smi": "file",
  "/etc/hostname": "file",
});

const spec = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  cdiVersion: "0.6.0",
  kind: "example.com/fake",
  containerEdits: {
    env: ["FAKE_ALL=1"],
    mounts: [{ hostPath: "/opt/vendor/lib", containerPath: "/opt/lib", options: ["ro", "bind"] }],
  },
  devices: [
    {
      name: "gpu0",
      containerEdits: {
        env: ["FAKE_DEV=0"],
        deviceNodes: [{ path: "/dev/fakegpu0", hostPath: "/dev/null" }],
      },
    },
    { name: "gpu1", containerEdits: { deviceNodes: [{ path: "/dev/zero" }] } },
  ],
  ...extra,
});

test("--device values: CDI names, host device paths, and clear refusals", () => {
  assert.deepEqual(parseDeviceRequest("nvidia.com/gpu=all"), {
    kind: "cdi",
    vendorClass: "nvidia.com/gpu",
    name: "all",
  });
  assert.deepEqual(parseDeviceRequest("vendor/class=dev-0:1"), {
    kind: "cdi",
    vendorClass: "vendor/class",
    name: "dev-0:1",
  });
  assert.deepEqual(parseDeviceRequest("/dev/fuse"), {
    kind: "host",
    hostPath: "/dev/fuse",
    containerPath: "/dev/fuse",
  });
  assert.deepEqual(parseDeviceRequest("/dev/sdc:/dev/xvdc:rw"), {
    kind: "host",
    hostPath: "/dev/sdc",
    containerPath: "/dev/xvdc",
  });
  for (const bad of [
    "nvidia.com/gpu",
    "gpu=0",
    "a/b/c=0",
    "vendor/class=",
    "/dev/x:rel",
    "/dev/x:/y:rwz",
    "vendor/class=-x",
  ]) {
    assert.throws(() => parseDeviceRequest(bad), InvalidArgumentError, bad);
  }
});

test("specs are checked field by field, naming the file and the field", () => {
  const s = checkSpec(spec(), "/etc/cdi/fake.json");
  assert.equal(s.kind, "example.com/fake");
  assert.deepEqual(
    s.devices.map((d) => d.name),
    ["gpu0", "gpu1"],
  );
  const bad: [unknown, RegExp][] = [
    [[], /not a mapping/],
    [{ ...spec(), cdiVersion: undefined }, /cdiVersion/],
    [{ ...spec(), kind: "fake" }, /kind "fake" is not VENDOR\/CLASS/],
    [{ ...spec(), devices: {} }, /devices is missing or not a list/],
    [{ ...spec(), devices: [{ name: "bad name" }] }, /devices\[0\]\.name/],
    [{ ...spec(), devices: [{ name: "a" }, { name: "a" }] }, /named twice/],
    [{ ...spec(), devices: [{ name: "a", containerEdits: { env: ["NOEQUALS"] } }] }, /env entry "NOEQUALS"/],
    [
      { ...spec(), devices: [{ name: "a", containerEdits: { deviceNodes: [{ path: "dev/x" }] } }] },
      /deviceNodes\[0\]\.path is not an absolute path/,
    ],
    [
      { ...spec(), devices: [{ name: "a", containerEdits: { mounts: [{ containerPath: "/x" }] } }] },
      /mounts\[0\]\.hostPath/,
    ],
    [
      { ...spec(), devices: [{ name: "a", containerEdits: { hooks: [{ path: "/x" }] } }] },
      /hookName is missing/,
    ],
    [{ ...spec(), devices: [{ name: "a", containerEdits: { additionalGids: ["x"] } }] }, /additionalGids/],
  ];
  for (const [raw, message] of bad) {
    assert.throws(
      () => checkSpec(raw, "/etc/cdi/x.json"),
      (err: Error) => {
        assert.ok(err instanceof InvalidArgumentError);
        assert.match(err.message, /^CDI spec \/etc\/cdi\/x\.json: /);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  }
});

test("a device's edits plus its spec's edits, once; all; device nodes bound from their host paths", () => {
  const loaded = { specs: [checkSpec(spec(), "/etc/cdi/fake.json")], broken: [] };
  const one = cdiEdits([{ vendorClass: "example.com/fake", name: "gpu0" }], loaded, ["/etc/cdi"], host);
  assert.deepEqual(one.env, [
    ["FAKE_ALL", "1"],
    ["FAKE_DEV", "0"],
  ]);
  assert.deepEqual(one.mounts, [
    { kind: "bind", source: "/opt/vendor/lib", destination: "/opt/lib", readonly: true, create: true },
    { kind: "bind", source: "/dev/null", destination: "/dev/fakegpu0", readonly: false, create: true },
  ]);
  const all = cdiEdits([{ vendorClass: "example.com/fake", name: "all" }], loaded, ["/etc/cdi"], host);
  assert.deepEqual(
    all.mounts.map((m) => m.destination),
    ["/opt/lib", "/dev/fakegpu0", "/dev/zero"],
  );
  assert.equal(all.env.filter(([k]) => k === "FAKE_ALL").length, 1, "the spec's own edits are applied once");
});

test("unknown kinds and names, missing host paths, and unsupported mounts are one-line errors", () => {
  const loaded = { specs: [checkSpec(spec(), "/etc/cdi/fake.json")], broken: [] };
  const edits = (name: string, kind = "example.com/fake", l: LoadedSpecs = loaded) =>
    cdiEdits([{ vendorClass: kind, name }], l, ["/etc/cdi", "/var/run/cdi"], host);
  assert.throws(
    () => edits("gpu9"),
    /unknown CDI device example.com\/fake=gpu9: the specs of kind example.com\/fake name gpu0, gpu1/,
  );
  assert.throws(
    () => edits("x", "other.com/x"),
    /no spec in \/etc\/cdi, \/var\/run\/cdi is of kind other.com\/x/,
  );
  const missing = {
    specs: [
      checkSpec(
        spec({ devices: [{ name: "a", containerEdits: { deviceNodes: [{ path: "/dev/gone0" }] } }] }),
        "/f.json",
      ),
    ],
    broken: [],
  };
  assert.throws(
    () => edits("a", "example.com/fake", missing),
    /device node \/dev\/gone0 does not exist on this host/,
  );
  const notDev = {
    specs: [
      checkSpec(
        spec({ devices: [{ name: "a", containerEdits: { deviceNodes: [{ path: "/etc/hostname" }] } }] }),
        "/f.json",
      ),
    ],
    broken: [],
  };
  assert.throws(() => edits("a", "example.com/fake", notDev), /\/etc\/hostname is not a device node/);
  const noSource = {
    specs: [
      checkSpec(
        spec({
          devices: [
            { name: "a", containerEdits: { mounts: [{ hostPath: "/nowhere", containerPath: "/x" }] } },
          ],
        }),
        "/f.json",
      ),
    ],
    broken: [],
  };
  assert.throws(() => edits("a", "example.com/fake", noSource), /mount source \/nowhere does not exist/);
  const nfs = {
    specs: [
      checkSpec(
        spec({
          devices: [
            {
              name: "a",
              containerEdits: { mounts: [{ hostPath: "/etc/hostname", containerPath: "/x", type: "nfs" }] },
            },
          ],
        }),
        "/f.json",
      ),
    ],
    broken: [],
  };
  assert.throws(() => edits("a", "example.com/fake", nfs), /type nfs/);
  // A broken file is the answer when nothing else has the kind asked for.
  const broken = {
    specs: [],
    broken: [{ file: "/b.yaml", error: new InvalidArgumentError("CDI spec /b.yaml: cannot be parsed") }],
  };
  assert.throws(() => edits("a", "example.com/fake", broken), /CDI spec \/b.yaml: cannot be parsed/);
});

test("hooks: update-ldcache becomes LD_LIBRARY_PATH and soname binds, others and extra groups are noted", () => {
  const libHost = fakeHost(
    { "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54": "file", "/dev/nvidiactl": "char" },
    {
      "/usr/lib/x86_64-linux-gnu/libcuda.so.1": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
      "/usr/lib/x86_64-linux-gnu/libcuda.so": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
    },
  );
  const s = checkSpec(
    {
      cdiVersion: "0.8.0",
      kind: "nvidia.com/gpu",
      devices: [{ name: "0", containerEdits: { deviceNodes: [{ path: "/dev/nvidiactl" }] } }],
      containerEdits: {
        mounts: [
          {
            hostPath: "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
            containerPath: "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
            options: ["ro", "nosuid", "nodev", "bind"],
          },
        ],
        hooks: [
          {
            hookName: "createContainer",
            path: "/usr/bin/nvidia-cdi-hook",
            args: ["nvidia-cdi-hook", "update-ldcache", "--folder", "/usr/lib/x86_64-linux-gnu"],
          },
          {
            hookName: "createContainer",
            path: "/usr/bin/nvidia-cdi-hook",
            args: ["nvidia-cdi-hook", "create-symlinks", "--link", "a::b"],
          },
        ],
        additionalGids: [44],
      },
    },
    "/var/run/cdi/nvidia.yaml",
  );
  const e = cdiEdits([{ vendorClass: "nvidia.com/gpu", name: "0" }], { specs: [s], broken: [] }, [], libHost);
  assert.deepEqual(e.libraryPath, ["/usr/lib/x86_64-linux-gnu"]);
  assert.deepEqual(
    e.mounts.map((m) => m.destination),
    [
      "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54",
      "/usr/lib/x86_64-linux-gnu/libcuda.so",
      "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
      "/dev/nvidiactl",
    ],
  );
  assert.ok(e.mounts.slice(0, 3).every((m) => m.kind === "bind" && m.readonly));
  assert.ok(e.notes.some((n) => /create-symlinks .*left out/.test(n)));
  assert.ok(e.notes.some((n) => /additionalGids 44 ignored/.test(n)));
  assert.deepEqual(libraryAliases("/usr/lib/x86_64-linux-gnu/libcuda.so.550.54", libHost), [
    "libcuda.so",
    "libcuda.so.1",
  ]);
});

test("edits go into the environment under -e, LD_LIBRARY_PATH in front, PATH at the end, mounts appended", () => {
  const env = new Map([
    ["PATH", "/usr/bin:/bin"],
    ["LD_LIBRARY_PATH", "/image/lib"],
    ["KEEP", "user"],
  ]);
  const mounts: MountSpec[] = [{ kind: "tmpfs", destination: "/tmp" }];
  applyDeviceEdits(
    {
      mounts: [{ kind: "bind", source: "/dev/null", destination: "/dev/x", readonly: false }],
      env: [
        ["KEEP", "device"],
        ["NEW", "1"],
      ],
      libraryPath: ["/usr/local/nvidia/lib64"],
      binPath: ["/usr/local/nvidia/bin", "/bin"],
      notes: [],
    },
    env,
    mounts,
    new Set(["KEEP"]),
  );
  assert.equal(env.get("KEEP"), "user");
  assert.equal(env.get("NEW"), "1");
  assert.equal(env.get("LD_LIBRARY_PATH"), "/usr/local/nvidia/lib64:/image/lib");
  assert.equal(env.get("PATH"), "/usr/bin:/bin:/usr/local/nvidia/bin");
  assert.deepEqual(
    mounts.map((m) => m.destination),
    ["/tmp", "/dev/x"],
  );
});

test("host device paths are bound where asked; files that are not devices are refused", () => {
  assert.deepEqual(hostDeviceEdits([{ hostPath: "/dev/sda", containerPath: "/dev/xvda" }], host).mounts, [
    { kind: "bind", source: "/dev/sda", destination: "/dev/xvda", readonly: false, create: true },
  ]);
  assert.throws(
    () => hostDeviceEdits([{ hostPath: "/etc/hostname", containerPath: "/x" }], host),
    /not a device node/,
  );
  assert.throws(
    () => hostDeviceEdits([{ hostPath: "/dev/nope", containerPath: "/x" }], host),
    /no such device/,
  );
});

test("spec folders: BURROW_CDI_DIRS, else /etc/cdi then /var/run/cdi; JSON and YAML read, later files win", async () => {
  assert.deepEqual(cdiDirs({}), ["/etc/cdi", "/var/run/cdi"]);
  assert.deepEqual(cdiDirs({ BURROW_CDI_DIRS: "/a::/b" }), ["/a", "/b"]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-cdi-"));
  try {
    const low = path.join(tmp, "etc");
    const high = path.join(tmp, "run");
    fs.mkdirSync(low);
    fs.mkdirSync(high);
    const lib = path.join(tmp, "lib");
    fs.mkdirSync(lib);
    const onHost = spec({
      containerEdits: {
        env: ["FAKE_ALL=1"],
        mounts: [{ hostPath: lib, containerPath: "/opt/lib", options: ["ro"] }],
      },
    });
    fs.writeFileSync(path.join(low, "a.json"), JSON.stringify(onHost));
    fs.writeFileSync(
      path.join(high, "b.yaml"),
      [
        "cdiVersion: 0.6.0",
        "kind: example.com/fake",
        "devices:",
        "  - name: gpu1",
        "    containerEdits:",
        "      env: [FROM_YAML=yes]",
        "      deviceNodes:",
        "        - path: /dev/fakegpu1",
        "          hostPath: /dev/zero",
        "",
      ].join("\n"),
    );
    fs.writeFileSync(path.join(high, "notes.txt"), "not a spec");
    fs.writeFileSync(path.join(high, "broken.yaml"), "cdiVersion: [unclosed\n");
    const loaded = await loadSpecs([low, high]);
    assert.equal(loaded.specs.length, 2);
    assert.equal(loaded.broken.length, 1);
    assert.match(loaded.broken[0]!.error.message, /^CDI spec .*broken\.yaml: cannot be parsed/);
    const e = cdiEdits([{ vendorClass: "example.com/fake", name: "gpu1" }], loaded, [low, high]);
    assert.deepEqual(e.env.at(-1), ["FROM_YAML", "yes"], "the later folder's gpu1 wins");
    assert.ok(
      e.mounts.some(
        (m) => m.kind === "bind" && m.destination === "/dev/fakegpu1" && m.source === "/dev/zero",
      ),
    );
    // Through resolveDevices with BURROW_CDI_DIRS, as the run path calls it.
    const notes: string[] = [];
    const r = await resolveDevices(
      { gpu: false, devices: ["example.com/fake=gpu0", "/dev/null:/dev/mynull"] },
      { BURROW_CDI_DIRS: `${low}:${high}` },
      (l) => notes.push(l),
    );
    assert.deepEqual(
      r.mounts.map((m) => m.destination),
      ["/opt/lib", "/dev/fakegpu0", "/dev/mynull"],
    );
    assert.ok(
      notes.some((n) => /broken\.yaml/.test(n)),
      "the broken file shows in --debug",
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
