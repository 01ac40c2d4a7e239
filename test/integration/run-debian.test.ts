// burrow run with a real Debian (debootstrap minbase): accounts, dpkg, apt and ownership as emulated root, per engine.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { makeTestHome } from "../harness/env.js";
import type { BurrowRunOptions, TestHome } from "../harness/env.js";
import { debianTarball } from "../harness/debian.js";
import { layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { DOCKER_PATH, TEST_ENGINES, burrowIn, ok } from "../harness/suite.js";

let home: TestHome;
let debian = "";

const burrow = burrowIn(() => home);

/** A tiny package built inside the container with dpkg-deb: a program, and a postinst that adds a system user. */
const BUILD_DEB = [
  "set -e",
  "mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/local/bin",
  "printf 'Package: burrow-hello\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: t <t@example.org>\\n" +
    "Description: test package\\n' > /tmp/pkg/DEBIAN/control",
  "printf '#!/bin/sh\\nset -e\\nuseradd --system --no-create-home burrowsvc || true\\n" +
    "mkdir -p /var/lib/burrow-hello\\nchown burrowsvc: /var/lib/burrow-hello\\n' > /tmp/pkg/DEBIAN/postinst",
  "chmod 755 /tmp/pkg/DEBIAN/postinst",
  "printf '#!/bin/sh\\necho hello from the package\\n' > /tmp/pkg/usr/local/bin/burrow-hello",
  "chmod 755 /tmp/pkg/usr/local/bin/burrow-hello",
  "dpkg-deb --root-owner-group --build /tmp/pkg /tmp/burrow-hello.deb >/dev/null",
].join("\n");

before(async () => {
  home = await makeTestHome();
  // Throws the harness's reason (debootstrap needs root, or it failed) and fails every test here.
  const layer = await layerFromTarball(debianTarball());
  const pushed = await pushImage("plain", uniqueRepo("run-debian"), "bookworm", [layer], {
    format: "docker",
    config: { Cmd: ["bash"], Env: [`PATH=${DOCKER_PATH}`] },
  });
  debian = pushed.ref;
  ok(await burrow(["pull", debian], { timeoutMs: 300_000 }));
});

after(async () => {
  await home?.cleanup();
});

for (const engine of TEST_ENGINES) {
  const bash = async (script: string, flags: string[] = [], opts: BurrowRunOptions = {}): Promise<string> =>
    ok(await burrow(["run", "--engine", engine, ...flags, debian, "bash", "-c", script], opts));

  describe(`burrow run --engine ${engine}: Debian bookworm`, () => {
    test("it is Debian 12 and bash is its CMD", async () => {
      const r = await burrow(["run", "--engine", engine, "-i", debian], {
        input: "cut -d. -f1 /etc/debian_version; id -un\n",
      });
      assert.equal(ok(r), "12\nroot\n");
    });

    test("useradd -m works as root, and id sees the user in the same run", async () => {
      const out = await bash(
        "useradd -m -s /bin/bash alice && id -u alice >/dev/null && id alice | grep -c alice && " +
          "getent passwd alice | cut -d: -f1,6,7 && test -d /home/alice && test -f /home/alice/.bashrc && " +
          "groupadd devs && usermod -aG devs alice && id -nG alice",
      );
      assert.equal(out, "1\nalice:/home/alice:/bin/bash\nalice devs\n");
    });

    test("the user made in one run is gone in the next", async () => {
      assert.equal(await bash("useradd bob && id -u bob >/dev/null && echo made"), "made\n");
      assert.equal(await bash("id bob >/dev/null 2>&1 && echo still-there || echo gone"), "gone\n");
    });

    test("chown, chgrp, install -o and tar -p succeed in a build-script-like run", async () => {
      const out = await bash(
        [
          "set -e",
          "useradd builder",
          "mkdir -p /opt/app/data && touch /opt/app/data/f",
          "chown -R builder:builder /opt/app && chgrp root /opt/app/data/f",
          "install -o builder -g builder -m 0750 -d /opt/app/logs",
          "install -o root -g root -m 0644 /etc/hostname /opt/app/hostname",
          "tar -C /opt -cf /tmp/a.tar app && mkdir /tmp/x && tar -C /tmp/x -xpf /tmp/a.tar",
          "chmod 4755 /opt/app/data/f",
          "echo built",
        ].join("\n"),
      );
      assert.equal(out, "built\n");
    });

    test("dpkg -i installs a package built with dpkg-deb (its postinst adds a user), dpkg -r removes it", async () => {
      const out = await bash(
        [
          BUILD_DEB,
          "dpkg -i /tmp/burrow-hello.deb >/dev/null",
          "burrow-hello",
          "dpkg-query -W -f '${Status}\\n' burrow-hello",
          "id -u burrowsvc >/dev/null && test -d /var/lib/burrow-hello && echo postinst-ran",
          "dpkg -r burrow-hello >/dev/null",
          "test -e /usr/local/bin/burrow-hello || echo removed",
        ].join("\n"),
      );
      assert.equal(out, "hello from the package\ninstall ok installed\npostinst-ran\nremoved\n");
    });

    test("apt-get installs and removes a local .deb offline", async () => {
      const out = await bash(
        [
          BUILD_DEB,
          "apt-get install -y -q /tmp/burrow-hello.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }",
          "burrow-hello",
          "apt-get remove -y -q burrow-hello >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }",
          "test -e /usr/local/bin/burrow-hello || echo removed",
        ].join("\n"),
      );
      assert.equal(out, "hello from the package\nremoved\n");
    });

    test("stat, ls -l and test -x see the container's own files (glibc's statx and faccessat2)", async () => {
      // PRoot 5.1.0 (Debian 12's) passes statx and faccessat2 to the kernel untranslated, so these asked
      // about the host's path; the package's PRoot 5.4.0 translates them.
      const out = await bash(
        [
          "printf '#!/bin/sh\\n' > /only-in-the-container && chmod 750 /only-in-the-container",
          "stat -c '%s %a' /only-in-the-container",
          "ls -l /only-in-the-container | cut -c1-10",
          "test -x /only-in-the-container && echo executable",
          "[ -f /only-in-the-container ] && echo file",
        ].join("\n"),
      );
      assert.equal(out, "10 750\n-rwxr-x---\nexecutable\nfile\n");
    });

    test("glibc name lookups use the container's passwd and the host's hosts file", async () => {
      const out = await bash(
        "getent passwd root | cut -d: -f1,3; getent hosts localhost | head -1 | cut -c1-9",
      );
      assert.match(out, /^root:0\n(127\.0\.0\.|::1)/);
    });

    test("-u with a user of the image and a numeric one", async () => {
      assert.equal(await bash("id -un; echo $HOME", ["-u", "nobody"]), "nobody\n/nonexistent\n");
      assert.equal(await bash("id -u; id -g", ["-u", "1000:1000"]), "1000\n1000\n");
    });
  });
}
