import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDockerfile } from "../../../src/dockerfile/parse.js";
import {
  StageVariables,
  copySource,
  findEarlierStage,
  fromRef,
  globalArgValues,
  neededStages,
  resolveBase,
  splitStages,
  targetStage,
  unusedBuildArgs,
  type StagePlan,
} from "../../../src/dockerfile/stages.js";
import { expandInstruction } from "../../../src/dockerfile/expand.js";
import { DockerfileError } from "../../../src/dockerfile/errors.js";

const plan = (text: string): StagePlan => splitStages(parseDockerfile(text));

const MULTI = [
  "ARG BASE=debian",
  "ARG TAG=12",
  "FROM ${BASE}:${TAG} AS build",
  "RUN make",
  "FROM scratch AS assets",
  "COPY x /x",
  "FROM build",
  "COPY --from=assets /x /x",
  "COPY --from=0 /out /out",
].join("\n");

test("stages split at FROM, with their names, indexes and instructions; global ARGs apart", () => {
  const p = plan(MULTI);
  assert.deepEqual(
    p.globalArgs.map((a) => a.line),
    [1, 2],
  );
  assert.deepEqual(
    p.stages.map((s) => [s.index, s.name, s.from.line, s.instructions.map((i) => i.kind)]),
    [
      [0, "build", 3, ["RUN"]],
      [1, "assets", 5, ["COPY"]],
      [2, undefined, 7, ["COPY", "COPY"]],
    ],
  );
});

test("only ARG may come before FROM; a Dockerfile needs a FROM; stage names are unique", () => {
  assert.throws(
    () => plan("RUN x\nFROM y\n"),
    /line 1: RUN before the first FROM: only ARG may come before FROM/,
  );
  assert.throws(() => plan("ARG X=1\n"), /no FROM instruction/);
  assert.throws(
    () => plan("FROM a AS s\nFROM b AS S\n"),
    /line 2: duplicate stage name "s" \(first on line 1\)/,
  );
});

test("--target picks a stage by name, case-insensitively; the last stage by default; an unknown one is an error", () => {
  const p = plan(MULTI);
  assert.equal(targetStage(p).index, 2);
  assert.equal(targetStage(p, "ASSETS").index, 1);
  assert.throws(
    () => targetStage(p, "nope"),
    (e: unknown) =>
      e instanceof DockerfileError &&
      /target stage "nope" could not be found \(stages: build, assets\)/.test(e.message),
  );
});

test("global ARGs serve FROM, --build-arg overrides their defaults, builtins are implicit", () => {
  const p = plan(MULTI);
  const globals = globalArgValues(p, new Map([["TAG", "13"]]));
  assert.equal(globals.get("BASE"), "debian");
  assert.equal(globals.get("TAG"), "13");
  assert.deepEqual(resolveBase(p, p.stages[0]!, globals), {
    base: { kind: "image", reference: "debian:13" },
  });
  const withBuiltins = globalArgValues(
    plan("ARG IMG=alpine-$TARGETARCH\nFROM $IMG\n"),
    new Map(),
    new Map([["TARGETARCH", "amd64"]]),
  );
  assert.equal(withBuiltins.get("IMG"), "alpine-amd64");
});

test("a global ARG default can use an earlier one", () => {
  const globals = globalArgValues(
    plan("ARG V=3\nARG IMG=python:$V-slim\nFROM $IMG\n"),
    new Map([["V", "4"]]),
  );
  assert.equal(globals.get("IMG"), "python:4-slim");
});

test("FROM resolves to scratch, an earlier stage by name, or an image; a blank base is an error", () => {
  const p = plan(MULTI);
  const globals = globalArgValues(p, new Map());
  assert.deepEqual(resolveBase(p, p.stages[1]!, globals).base, { kind: "scratch" });
  const base = resolveBase(p, p.stages[2]!, globals).base;
  assert.equal(base.kind === "stage" && base.stage.index, 0);
  const later = plan("FROM later\nFROM x AS later\n");
  assert.deepEqual(resolveBase(later, later.stages[0]!, new Map()).base, {
    kind: "image",
    reference: "later",
  });
  const blank = plan("ARG B\nFROM $B\n");
  assert.throws(
    () => resolveBase(blank, blank.stages[0]!, globalArgValues(blank, new Map())),
    /line 2: FROM: base name \(\$B\) should not be blank/,
  );
});

test("FROM --platform is substituted with the global args", () => {
  const p = plan("FROM --platform=$BUILDPLATFORM golang AS b\n");
  const r = resolveBase(p, p.stages[0]!, new Map([["BUILDPLATFORM", "linux/amd64"]]));
  assert.equal(r.platform, "linux/amd64");
});

test("COPY --from: an earlier stage by name or index, else an image; a later or own stage is an error", () => {
  const p = plan(MULTI);
  const last = p.stages[2]!;
  const byName = copySource(p, "assets", last, 8);
  assert.equal("stage" in byName && byName.stage.index, 1);
  const byIndex = copySource(p, "0", last, 9);
  assert.equal("stage" in byIndex && byIndex.stage.index, 0);
  assert.deepEqual(copySource(p, "nginx:latest", last, 9), { image: "nginx:latest" });
  assert.throws(
    () => copySource(p, "2", last, 9),
    /line 9: COPY --from=2: there is no stage 2 before this one/,
  );
  assert.throws(() => copySource(p, "assets", p.stages[0]!, 4), /stage "assets" comes after this one/);
  assert.throws(() => copySource(p, "build", p.stages[0]!, 4), /a stage cannot copy from itself/);
  assert.equal(findEarlierStage(p, "BUILD", 2)?.index, 0);
});

test("inside a stage a global ARG is seen only after it is redeclared", () => {
  const p = plan("ARG V=1\nFROM x\nARG V\nARG W=2\n");
  const globals = globalArgValues(p, new Map());
  const vars = new StageVariables(globals, new Map());
  assert.equal(vars.lookup("V"), undefined);
  for (const i of p.stages[0]!.instructions) {
    if (i.kind === "ARG") vars.declare(expandInstruction(i, vars.lookup, p.escape).args);
  }
  assert.equal(vars.lookup("V"), "1");
  assert.equal(vars.lookup("W"), "2");
});

test("--build-arg overrides a stage ARG default; an ARG with no value anywhere is unset", () => {
  const vars = new StageVariables(new Map(), new Map([["W", "9"]]));
  vars.declare([{ name: "W", default: "2" }, { name: "NOVALUE" }]);
  assert.equal(vars.lookup("W"), "9");
  assert.equal(vars.lookup("NOVALUE"), undefined);
  assert.deepEqual(vars.runArgs(), ["W=9"]);
});

test("ENV wins over an ARG of the same name, in substitution and in RUN's environment", () => {
  const vars = new StageVariables(new Map(), new Map([["CONT_IMG_VER", "v2.0.1"]]), ["PATH=/usr/bin"]);
  vars.declare([{ name: "CONT_IMG_VER" }]);
  assert.equal(vars.lookup("CONT_IMG_VER"), "v2.0.1");
  vars.setEnv("CONT_IMG_VER", "v1.0.0");
  assert.equal(vars.lookup("CONT_IMG_VER"), "v1.0.0");
  assert.deepEqual(vars.runEnv(), ["PATH=/usr/bin", "CONT_IMG_VER=v1.0.0"]);
  assert.deepEqual(vars.configEnv(), ["PATH=/usr/bin", "CONT_IMG_VER=v1.0.0"]);
});

test("the base image's Env is seen by substitution", () => {
  const vars = new StageVariables(new Map(), new Map(), ["HOME=/root", "BAD", "X=a=b"]);
  assert.equal(vars.lookup("HOME"), "/root");
  assert.equal(vars.lookup("X"), "a=b");
});

test("proxy args need no ARG line and reach RUN; other undeclared build args are reported unused", () => {
  const p = plan("FROM x AS a\nARG USED\nFROM y\n");
  const buildArgs = new Map([
    ["http_proxy", "http://proxy:3128"],
    ["USED", "1"],
    ["UNUSED", "2"],
  ]);
  const vars = new StageVariables(new Map(), buildArgs);
  assert.equal(vars.lookup("http_proxy"), "http://proxy:3128");
  assert.deepEqual(vars.runArgs(), ["http_proxy=http://proxy:3128"]);
  assert.deepEqual(unusedBuildArgs(p, [p.stages[1]!], buildArgs), ["UNUSED", "USED"]);
  assert.deepEqual(unusedBuildArgs(p, p.stages, buildArgs), ["UNUSED"]);
});

test("COPY --from is substituted with the global ARGs only", () => {
  const p = plan("ARG SRC=assets\nFROM scratch AS assets\nFROM x\nARG LOCAL=assets\nCOPY --from=$SRC a b\n");
  const globals = globalArgValues(p, new Map());
  assert.equal(fromRef(p, "$SRC", globals, 5), "assets");
  assert.equal(fromRef(p, "${LOCAL:-none}", globals, 5), "none");
  assert.throws(() => fromRef(p, "${SRC", globals, 5), /line 5: COPY --from: missing '}'/);
});

test("the stages a target needs: its base chain and COPY --from stages, transitively, in order", () => {
  const p = plan(
    [
      "ARG TOOLS=tools",
      "FROM alpine AS tools",
      "FROM debian AS unused",
      "FROM debian AS base",
      "FROM base AS build",
      "COPY --from=${TOOLS} /t /t",
      "FROM scratch AS final",
      "COPY --from=build /out /out",
      "COPY --from=nginx:1 /etc/nginx /etc/nginx",
    ].join("\n"),
  );
  const globals = globalArgValues(p, new Map());
  const names = (target: string): unknown =>
    neededStages(p, targetStage(p, target), globals).map((s) => s.name);
  assert.deepEqual(names("final"), ["tools", "base", "build", "final"]);
  assert.deepEqual(names("base"), ["base"]);
  assert.deepEqual(names("unused"), ["unused"]);
  const bad = plan("FROM a AS one\nCOPY --from=two x y\nFROM b AS two\n");
  assert.throws(
    () => neededStages(bad, bad.stages[0]!, new Map()),
    /line 2: COPY --from=two: stage "two" comes after this one/,
  );
});
