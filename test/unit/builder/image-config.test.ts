import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDockerfile } from "../../../src/dockerfile/parse.js";
import { expandInstruction } from "../../../src/dockerfile/expand.js";
import { applyMetadata, createdBy, nextWorkdir } from "../../../src/builder/image-config.js";
import type { RunSettings } from "../../../src/builder/image-config.js";
import { subordinateRange } from "../../../src/builder/namespace.js";
import { stepKey } from "../../../src/builder/cache.js";

/** The settings after each line of `text` (a Dockerfile without FROM), from `start`. */
function settingsAfter(text: string, start: RunSettings = {}): RunSettings {
  let s = start;
  let cmdSet = false;
  for (const raw of parseDockerfile(text).instructions) {
    // As the builder does: variables and quotes resolved first.
    const i = expandInstruction(raw, () => undefined, "\\");
    s = applyMetadata(s, i, cmdSet) ?? s;
    if (i.kind === "CMD") cmdSet = true;
  }
  return s;
}

test("ENV replaces a variable in place and appends new ones; LABEL merges", () => {
  const s = settingsAfter('ENV PATH=/x A=1\nENV B=2\nLABEL a=1 "b c"=2\nLABEL a=3', {
    Env: ["PATH=/usr/bin", "HOME=/root"],
    Labels: { base: "y" },
  });
  assert.deepEqual(s.Env, ["PATH=/x", "HOME=/root", "A=1", "B=2"]);
  assert.deepEqual(s.Labels, { base: "y", a: "3", "b c": "2" });
});

test("ENTRYPOINT clears an inherited CMD, not one set in the stage; SHELL shapes shell forms", () => {
  assert.equal(settingsAfter('ENTRYPOINT ["x"]', { Cmd: ["base"] }).Cmd, null);
  assert.deepEqual(settingsAfter('CMD ["mine"]\nENTRYPOINT ["x"]', { Cmd: ["base"] }).Cmd, ["mine"]);
  const s = settingsAfter('SHELL ["/bin/bash", "-c"]\nCMD echo hi');
  assert.deepEqual(s.Cmd, ["/bin/bash", "-c", "echo hi"]);
  assert.deepEqual(s.Shell, ["/bin/bash", "-c"]);
});

test("WORKDIR is relative to the one before; EXPOSE, VOLUME, STOPSIGNAL, USER, HEALTHCHECK, ONBUILD", () => {
  assert.equal(nextWorkdir("/app", "sub/../x"), "/app/x");
  assert.equal(nextWorkdir(undefined, "rel"), "/rel");
  const s = settingsAfter(
    "WORKDIR /a\nWORKDIR b\nEXPOSE 80 53/udp\nVOLUME /data\nSTOPSIGNAL SIGINT\nUSER app:app\nHEALTHCHECK --retries=2 CMD true\nONBUILD RUN echo hi",
  );
  assert.equal(s.WorkingDir, "/a/b");
  assert.deepEqual(s.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
  assert.deepEqual(s.Volumes, { "/data": {} });
  assert.equal(s.StopSignal, "SIGINT");
  assert.equal(s.User, "app:app");
  assert.deepEqual(s.Healthcheck, { Test: ["CMD-SHELL", "true"], Retries: 2 });
  assert.deepEqual(s.OnBuild, ["RUN echo hi"]);
});

test("history records RUN with its argv and other steps as written", () => {
  const [run, exec, env] = parseDockerfile('RUN echo  hi\nRUN ["a", "b"]\nENV  A=1').instructions;
  assert.equal(createdBy(run!, ["/bin/sh", "-c"]), "RUN /bin/sh -c echo  hi");
  assert.equal(createdBy(exec!, ["/bin/sh", "-c"]), 'RUN ["a","b"]');
  assert.equal(createdBy(env!, ["/bin/sh", "-c"]), "ENV A=1");
});

test("subordinate ranges are found by name or uid", () => {
  const text = "alice:100000:65536\n1001:200000:1000\nbad\n";
  assert.deepEqual(subordinateRange(text, "alice", 1000), { start: 100000, count: 65536 });
  assert.deepEqual(subordinateRange(text, "bob", 1001), { start: 200000, count: 1000 });
  assert.equal(subordinateRange(text, "carol", 1002), undefined);
});

test("step keys chain: a different parent or part gives a different key", () => {
  assert.equal(stepKey("a", "x"), stepKey("a", "x"));
  assert.notEqual(stepKey("a", "x"), stepKey("b", "x"));
  assert.notEqual(stepKey("a", "x", "y"), stepKey("a", "xy"));
});
