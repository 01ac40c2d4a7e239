// The image config reader (src/run/image-config.ts): every field typed, each malformed one refused in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { containerConfig, parseConfigBlob } from "../../../src/run/image-config.js";
import { BurrowError, ImageConfigError } from "../../../src/errors.js";

const withConfig = (config: unknown): unknown => ({ architecture: "amd64", os: "linux", config });

/** Asserts an ImageConfigError whose one line matches `re`. */
function refuses(config: unknown, re: RegExp, overrides = {}): void {
  assert.throws(
    () => containerConfig(withConfig(config), overrides),
    (err: unknown) => {
      assert.ok(err instanceof ImageConfigError, String(err));
      assert.equal((err as BurrowError).code, "ERR_IMAGE_CONFIG");
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, re);
      return true;
    },
  );
}

test("a well-formed config reads as it is", () => {
  const c = containerConfig(
    withConfig({
      Entrypoint: ["/bin/sh", "-c"],
      Cmd: ["echo hi"],
      Env: ["PATH=/bin", "EMPTY=", "EQ=a=b"],
      WorkingDir: "/srv",
      User: "1000:1000",
      StopSignal: "SIGINT",
      Volumes: { "/data": {} },
      ExposedPorts: { "80/tcp": {} },
      Labels: { a: "b" },
      Healthcheck: { Test: ["CMD", "true"], Interval: 30000000000, Retries: 3 },
      OnBuild: null,
      Shell: ["/bin/sh", "-c"],
      ArgsEscaped: true,
    }),
  );
  assert.deepEqual(c.Entrypoint, ["/bin/sh", "-c"]);
  assert.deepEqual(c.Cmd, ["echo hi"]);
  assert.deepEqual(c.Env, ["PATH=/bin", "EMPTY=", "EQ=a=b"]);
  assert.equal(c.WorkingDir, "/srv");
  assert.equal(c.User, "1000:1000");
  assert.equal(c.StopSignal, "SIGINT");
  assert.deepEqual(c.Volumes, { "/data": {} });
  assert.deepEqual(c.Labels, { a: "b" });
});

test("no config, a null config and null fields are an image with no settings", () => {
  assert.deepEqual(containerConfig({}), {});
  assert.deepEqual(containerConfig(withConfig(null)), {});
  assert.deepEqual(
    containerConfig(
      withConfig({
        Entrypoint: null,
        Cmd: null,
        Env: null,
        WorkingDir: null,
        User: null,
        Volumes: null,
        ExposedPorts: null,
        Labels: null,
        Healthcheck: null,
      }),
    ),
    {},
  );
});

test("a string Entrypoint or Cmd is one program name, as docker reads it (not split, not run by a shell)", () => {
  assert.deepEqual(containerConfig(withConfig({ Entrypoint: "/bin/echo hi" })).Entrypoint, ["/bin/echo hi"]);
  assert.deepEqual(containerConfig(withConfig({ Cmd: "/bin/sh" })).Cmd, ["/bin/sh"]);
});

test("the config itself not an object: refused", () => {
  for (const blob of [null, 42, "x", [1]]) {
    assert.throws(() => containerConfig(blob), /the image's config is .*not a JSON object/);
  }
  refuses(42, /config is the number 42, not an object/);
  refuses([], /config is a list, not an object/);
  refuses("x", /config is the string "x", not an object/);
});

test("Entrypoint and Cmd of the wrong type: refused, saying how to override", () => {
  refuses({ Entrypoint: { a: 1 } }, /Entrypoint is an object, not a list of strings; give --entrypoint/);
  refuses({ Entrypoint: 7 }, /Entrypoint is the number 7/);
  refuses({ Entrypoint: ["/bin/sh", 1] }, /Entrypoint\[1\] is the number 1, not a string/);
  refuses({ Cmd: { a: 1 } }, /Cmd is an object, not a list of strings; give a command after the image name/);
  refuses({ Cmd: true }, /Cmd is the boolean true/);
  refuses({ Cmd: ["sh", null] }, /Cmd\[1\] is null, not a string/);
  refuses({ Cmd: ["sh", ["x"]] }, /Cmd\[1\] is a list, not a string/);
  refuses({ Cmd: ["sh\0x"] }, /Cmd\[0\] holds a NUL byte/);
});

test("a field the command line replaces is neither read nor checked", () => {
  assert.deepEqual(containerConfig(withConfig({ Cmd: { a: 1 } }), { cmd: true }), {});
  assert.deepEqual(
    containerConfig(withConfig({ Entrypoint: 5, Cmd: { a: 1 }, User: 0, WorkingDir: [] }), {
      entrypoint: true,
      user: true,
      workdir: true,
    }),
    {},
  );
  // A command replaces Cmd but not Entrypoint.
  refuses({ Entrypoint: 5 }, /Entrypoint/, { cmd: true });
});

test("Env: a list of NAME=value strings", () => {
  refuses({ Env: "PATH=/bin" }, /Env is the string "PATH=\/bin", not a list of NAME=value strings/);
  refuses({ Env: { PATH: "/bin" } }, /Env is an object/);
  refuses({ Env: ["PATH=/bin", 3] }, /Env\[1\] is the number 3, not a string/);
  refuses({ Env: ["PATH=/bin", "NOVALUE"] }, /Env\[1\] is the string "NOVALUE", not NAME=value/);
  refuses({ Env: ["=value"] }, /Env\[0\] is the string "=value", not NAME=value/);
  refuses({ Env: ["A=b\0c"] }, /Env\[0\] holds a NUL byte/);
  refuses({ Env: [null] }, /Env\[0\] is null/);
});

test("User, WorkingDir and StopSignal: strings", () => {
  refuses({ User: 1000 }, /User is the number 1000, not a string; give -u USER/);
  refuses({ User: { uid: 0 } }, /User is an object/);
  refuses({ WorkingDir: 5 }, /WorkingDir is the number 5, not a string; give -w FOLDER/);
  refuses({ WorkingDir: ["/x"] }, /WorkingDir is a list/);
  refuses({ WorkingDir: "/a\0b" }, /WorkingDir holds a NUL byte/);
  refuses({ StopSignal: 15 }, /StopSignal is the number 15/);
});

test("ExposedPorts, Volumes and Labels: objects of the right values", () => {
  refuses({ ExposedPorts: ["80/tcp"] }, /ExposedPorts is a list, not an object/);
  refuses({ ExposedPorts: "80" }, /ExposedPorts is the string "80"/);
  refuses({ ExposedPorts: { "80/tcp": 1 } }, /ExposedPorts\["80\/tcp"\] is the number 1, not an object/);
  refuses({ Volumes: ["/data"] }, /Volumes is a list, not an object/);
  refuses({ Volumes: { "/data": "yes" } }, /Volumes\["\/data"\] is the string "yes"/);
  refuses({ Labels: ["a=b"] }, /Labels is a list, not an object of strings/);
  refuses({ Labels: { a: 1 } }, /Labels\["a"\] is the number 1, not a string/);
  refuses({ Labels: { a: { b: "c" } } }, /Labels\["a"\] is an object/);
  assert.deepEqual(containerConfig(withConfig({ Labels: { a: null } })).Labels, {});
});

test("Healthcheck and the other fields burrow does not act on: checked all the same", () => {
  refuses({ Healthcheck: "curl localhost" }, /Healthcheck is the string/);
  refuses({ Healthcheck: [] }, /Healthcheck is a list, not an object/);
  refuses({ Healthcheck: { Test: "curl" } }, /Healthcheck.Test is the string "curl", not a list of strings/);
  refuses({ Healthcheck: { Test: ["CMD", 1] } }, /Healthcheck.Test is a list, not a list of strings/);
  refuses(
    { Healthcheck: { Interval: "30s" } },
    /Healthcheck.Interval is the string "30s", not a whole number/,
  );
  refuses({ Healthcheck: { Retries: -1 } }, /Healthcheck.Retries is the number -1/);
  refuses({ OnBuild: "RUN x" }, /OnBuild is the string/);
  refuses({ Shell: [1] }, /Shell is a list, not a list of strings/);
  refuses({ ArgsEscaped: "yes" }, /ArgsEscaped is the string "yes", not true or false/);
});

test("a long string is shortened in the message", () => {
  refuses({ Env: "x".repeat(1000) }, /Env is the string "x{40}\.\.\."/);
});

test("a config blob that is not JSON: one line", () => {
  assert.throws(
    () => parseConfigBlob(Buffer.from("{not json")),
    (err: unknown) => err instanceof ImageConfigError && /not valid JSON/.test(err.message),
  );
  assert.deepEqual(parseConfigBlob(Buffer.from('{"config":{}}')), { config: {} });
});
