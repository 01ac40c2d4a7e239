// The metadata of a container clone (burrow-clone.json) is someone else's JSON: each field is checked, a
// wrong one is one line naming it, and what the import records is the carried config with its own layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkCloneMeta, cloneConfig } from "../../../src/archive/clone-archive.js";
import { ArchiveError, InvalidArgumentError } from "../../../src/errors.js";

const ENGINES = ["userns", "proot", "runc"];
const checkEngine = (s: string): string => {
  if (!ENGINES.includes(s)) throw new InvalidArgumentError(`unknown engine "${s}"`);
  return s;
};
const checkImageName = (s: string): string => {
  if (!/^[a-z0-9./:_-]+$/.test(s)) throw new InvalidArgumentError(`bad name ${s}`);
  return s;
};

/** burrow-clone.json's fields as the tests write them (any JSON type, to break them). */
interface MetaShape {
  format: unknown;
  version: unknown;
  container: { [k: string]: unknown; names?: unknown };
  image: { id: string; config: { [k: string]: unknown; config: Record<string, unknown> } } | null;
}

/** Valid metadata with `change` applied. */
function meta(change: (m: MetaShape) => void = () => undefined): unknown {
  const m: MetaShape = {
    format: "burrow-container-clone",
    version: 1,
    container: { id: "a".repeat(64), names: ["box"], imageName: "alpine:3", engine: "proot", created: "x" },
    image: {
      id: "b".repeat(64),
      config: {
        architecture: "arm64",
        os: "linux",
        config: { Env: ["A=1"], Cmd: ["/bin/sh"] },
        rootfs: { type: "layers", diff_ids: ["sha256:old"] },
        history: [{ created_by: "old" }],
      },
    },
  };
  change(m);
  return m;
}

const check = (raw: unknown) => checkCloneMeta(raw, "box.tar", checkEngine, checkImageName);

test("valid metadata gives the config, platform, image name and engine; the name is kept for the notice", () => {
  const m = check(meta());
  assert.equal(m.engine, "proot");
  assert.equal(m.imageName, "alpine:3");
  assert.equal(m.from, "box");
  assert.deepEqual(m.platform, { os: "linux", architecture: "arm64" });
  assert.equal(m.config.rootfs, undefined, "the exporter's layers are not carried over");
  assert.equal(m.config.history, undefined);
});

test("the recorded config is the carried one with the import's single layer and history", () => {
  const config = JSON.parse(cloneConfig(check(meta()), "sha256:new", new Date(0), "box.tar").toString()) as {
    rootfs: unknown;
    config: unknown;
    architecture: string;
    history: { comment: string }[];
  };
  assert.deepEqual(config.rootfs, { type: "layers", diff_ids: ["sha256:new"] });
  assert.deepEqual(config.config, { Env: ["A=1"], Cmd: ["/bin/sh"] });
  assert.equal(config.architecture, "arm64");
  assert.equal(config.history.length, 1);
  assert.match(config.history[0]!.comment, /container box imported from box\.tar/);
});

test("an engine this burrow lacks is dropped (and reported), not refused", () => {
  const m = check(meta((x) => (x.container.engine = "warpdrive")));
  assert.equal(m.engine, undefined);
  assert.equal(m.droppedEngine, "warpdrive");
});

test("each malformed field is refused in one line naming it", () => {
  const cases: [(m: MetaShape) => void, RegExp][] = [
    [(m) => (m.format = "other"), /has format "other"/],
    [(m) => (m.version = 2), /version 2 container clone/],
    [(m) => (m.container = [] as unknown as MetaShape["container"]), /container field that is/],
    [(m) => (m.image = null), /image field that is/],
    [
      (m) => (m.image!.config = "x" as unknown as NonNullable<MetaShape["image"]>["config"]),
      /image\.config that is/,
    ],
    [(m) => (m.image!.config.config.Env = "A=1"), /Env/],
    [(m) => (m.image!.config.config.Cmd = [1]), /Cmd\[0\]/],
    [(m) => (m.image!.config.architecture = "../x"), /image\.config\.architecture/],
    [(m) => (m.container.engine = 7), /container\.engine that is/],
    [(m) => (m.container.imageName = "a\nb"), /container\.imageName/],
    [(m) => (m.container.imageName = "Bad Name"), /not an image reference/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => check(meta(change)),
      (err: unknown) => {
        assert.ok(err instanceof ArchiveError, String(err));
        assert.match(err.message, message);
        assert.match(err.message, /^cannot import box\.tar: /);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  }
  assert.throws(() => check("text"), /is a string, not an object|not an object/);
});

test("a name from the archive is printed without control characters", () => {
  const m = check(meta((x) => (x.container.names = ["\x1b]0;pwned\x07box"])));
  assert.ok(![...m.from].some((c) => c.charCodeAt(0) < 0x20), m.from);
});
