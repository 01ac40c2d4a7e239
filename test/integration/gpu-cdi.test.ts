// `burrow run --device` with CDI specs of the test's own (JSON and YAML) naming stand-in devices, a
// library folder and a program, and `--gpu`, as the unprivileged test user, for each engine.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { debianTarball } from "../harness/debian.js";
import { DOCKER_PATH, TEST_ENGINES, burrowIn, burrowFails, ok, pullAlpine } from "../harness/suite.js";

let home: TestHome;
let image = "";
/** BURROW_CDI_DIRS for the good specs. */
let cdiDirs = "";
/** A folder holding one spec per failure case, by name. */
let badDir = "";

const burrow = burrowIn(
  () => home,
  () => ({ BURROW_CDI_DIRS: cdiDirs }),
);

/** A folder under the test home (readable by the test user). */
function dir(name: string): string {
  const d = path.join(home.dir, `${name}-${randomBytes(3).toString("hex")}`);
  fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  return d;
}

before(async () => {
  home = await makeTestHome();
  image = await pullAlpine(burrow, "gpu-cdi", { env: ["LD_LIBRARY_PATH=/image/lib"] });

  // The vendor's stand-ins: a library folder and a program.
  const vendor = dir("vendor");
  fs.mkdirSync(path.join(vendor, "lib"));
  fs.writeFileSync(path.join(vendor, "lib", "libfake.so.1"), "fake library 1\n");
  fs.writeFileSync(
    path.join(vendor, "fake-smi"),
    '#!/bin/sh\necho "fake-smi: 2 fake GPUs, vendor $FAKE_VENDOR"\n',
    {
      mode: 0o755,
    },
  );

  // JSON: kind example.com/fake, two devices; YAML: kind yaml.example/acc, one device.
  const low = dir("cdi-etc");
  const high = dir("cdi-run");
  fs.writeFileSync(
    path.join(low, "fake.json"),
    JSON.stringify({
      cdiVersion: "0.6.0",
      kind: "example.com/fake",
      containerEdits: {
        env: ["FAKE_VENDOR=burrow-test"],
        mounts: [
          {
            hostPath: path.join(vendor, "lib"),
            containerPath: "/opt/fakevendor/lib",
            options: ["ro", "nosuid", "bind"],
          },
          {
            hostPath: path.join(vendor, "fake-smi"),
            containerPath: "/usr/local/bin/fake-smi",
            options: ["ro", "bind"],
          },
        ],
        hooks: [
          {
            hookName: "createContainer",
            path: "/usr/bin/fake-hook",
            args: ["fake-hook", "update-ldcache", "--folder", "/opt/fakevendor/lib"],
          },
          { hookName: "startContainer", path: "/usr/bin/fake-hook", args: ["fake-hook", "chmod"] },
        ],
        additionalGids: [44],
      },
      devices: [
        {
          name: "fakegpu0",
          containerEdits: {
            env: ["FAKE_GPU0=yes"],
            deviceNodes: [{ path: "/dev/fakegpu0", hostPath: "/dev/null" }],
          },
        },
        {
          name: "fakegpu1",
          containerEdits: {
            deviceNodes: [{ path: "/dev/fakegpu1", hostPath: "/dev/zero", type: "c", permissions: "rw" }],
          },
        },
      ],
    }),
  );
  fs.writeFileSync(
    path.join(high, "acc.yaml"),
    [
      "---",
      "cdiVersion: 0.5.0",
      "kind: yaml.example/acc",
      "devices:",
      "  - name: acc0",
      "    containerEdits:",
      "      env:",
      "        - ACC=yaml-ok",
      "      deviceNodes:",
      "        - path: /dev/accel/acc0",
      "          hostPath: /dev/zero",
      "          type: c",
      "",
    ].join("\n"),
  );
  cdiDirs = `${low}:${high}`;

  badDir = dir("cdi-bad");
  for (const [name, text] of Object.entries({
    "broken.json": '{"cdiVersion": "0.6.0", "kind": "broken.example/x", ',
    "missing.yaml":
      "cdiVersion: 0.6.0\nkind: missing.example/x\ndevices:\n  - name: gone\n    containerEdits:\n      deviceNodes:\n        - path: /dev/gone0\n          hostPath: /dev/burrow-no-such-device\n",
    "nokind.json": JSON.stringify({ cdiVersion: "0.6.0", kind: "nokind", devices: [] }),
  })) {
    fs.mkdirSync(path.join(badDir, name.replace(/\..*/, "")));
    fs.writeFileSync(path.join(badDir, name.replace(/\..*/, ""), name), text);
  }
  execFileSync("chmod", ["-R", "a+rX", home.dir]);
});

after(async () => {
  await home?.cleanup();
});

/** What the container reports about the devices, mounts, variables and program. */
const PROBE = [
  "test -c /dev/fakegpu0 && echo fakegpu0=char",
  "test -c /dev/fakegpu1 && echo fakegpu1=char",
  "echo written > /dev/fakegpu0 && echo fakegpu0=writable",
  "echo od=$(head -c 4 /dev/fakegpu1 | od | head -1)",
  'echo "FAKE_VENDOR=$FAKE_VENDOR FAKE_GPU0=$FAKE_GPU0"',
  'echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"',
  "cat /opt/fakevendor/lib/libfake.so.1",
  "if touch /opt/fakevendor/lib/new 2>/dev/null; then echo lib=writable; else echo lib=readonly; fi",
  "fake-smi",
].join("; ");

describe("run --device with CDI specs", () => {
  for (const engine of TEST_ENGINES) {
    test(`${engine}: devices, env, read-only library folder and program of a JSON spec`, async () => {
      const out = ok(
        await burrow([
          "run",
          "--engine",
          engine,
          "--device",
          "example.com/fake=fakegpu0",
          "--device",
          "example.com/fake=fakegpu1",
          image,
          "sh",
          "-c",
          PROBE,
        ]),
      );
      assert.match(out, /^fakegpu0=char$/m);
      assert.match(out, /^fakegpu1=char$/m);
      assert.match(out, /^fakegpu0=writable$/m);
      // /dev/zero behind /dev/fakegpu1: four zero bytes (od: two zero words).
      assert.match(out, /^od=0000000 0+ 0+$/m);
      assert.match(out, /^FAKE_VENDOR=burrow-test FAKE_GPU0=yes$/m);
      // The update-ldcache hook's folder in front of the image's own.
      assert.match(out, /^LD_LIBRARY_PATH=\/opt\/fakevendor\/lib:\/image\/lib$/m);
      assert.match(out, /^fake library 1$/m);
      // PRoot cannot make a bind read-only.
      if (engine !== "proot") assert.match(out, /^lib=readonly$/m);
      assert.match(out, /^fake-smi: 2 fake GPUs, vendor burrow-test$/m);
    });
  }

  test("VENDOR/CLASS=all, a YAML spec, and -e over the spec's variables", async () => {
    const out = ok(
      await burrow([
        "run",
        "--device",
        "example.com/fake=all",
        "--device=yaml.example/acc=acc0",
        "-e",
        "FAKE_VENDOR=mine",
        image,
        "sh",
        "-c",
        "ls /dev/fakegpu0 /dev/fakegpu1 /dev/accel/acc0; echo ACC=$ACC FAKE_VENDOR=$FAKE_VENDOR FAKE_GPU0=$FAKE_GPU0",
      ]),
    );
    assert.match(out, /^\/dev\/fakegpu0$/m);
    assert.match(out, /^\/dev\/fakegpu1$/m);
    assert.match(out, /^\/dev\/accel\/acc0$/m);
    assert.match(out, /^ACC=yaml-ok FAKE_VENDOR=mine FAKE_GPU0=yes$/m);
  });

  test("a host device path: --device /dev/zero:/dev/myzero", async () => {
    const out = ok(
      await burrow([
        "run",
        "--device",
        "/dev/zero:/dev/myzero",
        image,
        "sh",
        "-c",
        "head -c 2 /dev/myzero | od | head -1",
      ]),
    );
    assert.match(out, /^0000000\s+0+$/m);
  });

  test("--debug says which hooks and fields were left out", async () => {
    const r = await burrow(["--debug", "run", "--device", "example.com/fake=fakegpu0", image, "true"]);
    ok(r);
    assert.match(r.stderr, /startContainer hook \/usr\/bin\/fake-hook chmod left out/);
    assert.match(r.stderr, /additionalGids 44 ignored/);
  });

  test("unknown names and kinds, malformed specs, missing host paths: one line, 125, nothing run", async () => {
    burrowFails(
      await burrow(["run", "--device", "example.com/fake=fakegpu7", image, "echo", "ran"]),
      /unknown CDI device example\.com\/fake=fakegpu7: the specs of kind example\.com\/fake name fakegpu0, fakegpu1/,
    );
    burrowFails(
      await burrow(["run", "--device", "nowhere.example/x=0", image, "echo", "ran"]),
      /unknown CDI device nowhere\.example\/x=0: no spec in .* is of kind nowhere\.example\/x/,
    );
    burrowFails(
      await burrow(["run", "--device", "not-a-device", image, "echo", "ran"]),
      /invalid --device "not-a-device"/,
    );
    const bad = (name: string) => ({ env: { BURROW_CDI_DIRS: path.join(badDir, name) } });
    burrowFails(
      await burrow(["run", "--device", "broken.example/x=0", image, "echo", "ran"], bad("broken")),
      /CDI spec .*broken\.json: cannot be parsed/,
    );
    burrowFails(
      await burrow(["run", "--device", "missing.example/x=gone", image, "echo", "ran"], bad("missing")),
      /device node \/dev\/burrow-no-such-device does not exist on this host/,
    );
    burrowFails(
      await burrow(["run", "--device", "nokind.example/x=0", image, "echo", "ran"], bad("nokind")),
      /CDI spec .*nokind\.json: kind "nokind" is not VENDOR\/CLASS/,
    );
  });
});

describe("run --gpu", () => {
  const hasGpu = fs.existsSync("/dev/nvidiactl");

  test(
    "without NVIDIA device nodes: one clear line, 125",
    { skip: hasGpu ? "this machine has /dev/nvidiactl: the GPU is used by the test below instead" : false },
    async () => {
      for (const flag of ["--gpu", "--nv"]) {
        burrowFails(
          await burrow(["run", flag, image, "echo", "ran"]),
          /^burrow: --gpu: no NVIDIA device nodes \(\/dev\/nvidia\*\) on this host$/m,
        );
      }
    },
  );

  test(
    "with an NVIDIA GPU: nvidia-smi and a CUDA driver call run inside a Debian image",
    { skip: hasGpu ? false : "no /dev/nvidiactl on this machine: no NVIDIA GPU to give a container" },
    async () => {
      const debian = await pushImage(
        "plain",
        uniqueRepo("gpu-debian"),
        "1",
        [await layerFromTarball(debianTarball())],
        {
          config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
        },
      );
      ok(await burrow(["pull", debian.ref]));
      const smi = ok(await burrow(["run", "--gpu", debian.ref, "nvidia-smi", "-L"]));
      assert.match(smi, /^GPU 0: /m);
      // A driver API call through the bound libcuda.so.1 (no CUDA toolkit needed: dlopen and two calls).
      const src = dir("cuda");
      fs.writeFileSync(
        path.join(src, "count.c"),
        [
          "#include <dlfcn.h>",
          "#include <stdio.h>",
          "int main(void) {",
          '  void *h = dlopen("libcuda.so.1", RTLD_NOW);',
          '  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }',
          '  int (*init)(unsigned) = (int (*)(unsigned))dlsym(h, "cuInit");',
          '  int (*count)(int *) = (int (*)(int *))dlsym(h, "cuDeviceGetCount");',
          "  int n = -1; int r = init(0); if (r == 0) r = count(&n);",
          '  printf("cuda: status %d, %d devices\\n", r, n);',
          "  return r;",
          "}",
          "",
        ].join("\n"),
      );
      execFileSync("gcc", ["-O2", "-o", path.join(src, "count"), path.join(src, "count.c"), "-ldl"]);
      execFileSync("chmod", ["-R", "a+rX", src]);
      const out = ok(await burrow(["run", "--gpu", "-v", `${src}:/cuda:ro`, debian.ref, "/cuda/count"]));
      assert.match(out, /^cuda: status 0, [1-9][0-9]* devices$/m);
      process.stdout.write(`# GPU: ${smi.trim().split("\n")[0]}; ${out.trim()}\n`);
    },
  );
});
