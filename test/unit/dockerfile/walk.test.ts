// A Dockerfile a user would write, walked through parse, stages, substitution and values as a builder will.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDockerfile } from "../../../src/dockerfile/parse.js";
import {
  StageVariables,
  globalArgValues,
  resolveBase,
  splitStages,
  targetStage,
} from "../../../src/dockerfile/stages.js";
import { expandInstruction } from "../../../src/dockerfile/expand.js";
import { exposedPorts } from "../../../src/dockerfile/values.js";

const DOCKERFILE = `# syntax=docker/dockerfile:1
ARG DEBIAN=bookworm
FROM debian:\${DEBIAN}-slim AS build
ARG VERSION="1.0 beta"
ENV APP_HOME=/opt/app \\
    PATH=/opt/app/bin:$PATH
WORKDIR $APP_HOME
RUN useradd -m app && \\
    chown app /opt/app
COPY --chown=app:app src/ ./src/

FROM build AS app
ARG VERSION
ARG PORT=8080
LABEL org.opencontainers.image.version="$VERSION"
EXPOSE $PORT/tcp 9090
USER app
ENTRYPOINT ["/opt/app/bin/tool"]
CMD ["--help"]
`;

test("a multi-stage Dockerfile walked as a build would: bases, ARG scoping, ENV and substitution", () => {
  const plan = splitStages(parseDockerfile(DOCKERFILE));
  const buildArgs = new Map([["PORT", "8000"]]);
  const globals = globalArgValues(plan, buildArgs);
  const target = targetStage(plan, "app");
  assert.equal(target.index, 1);

  const first = plan.stages[0]!;
  assert.deepEqual(resolveBase(plan, first, globals).base, {
    kind: "image",
    reference: "debian:bookworm-slim",
  });
  const vars = new StageVariables(globals, buildArgs, ["PATH=/usr/local/bin:/usr/bin"]);
  const seen: unknown[] = [];
  for (const raw of first.instructions) {
    const i = expandInstruction(raw, vars.lookup, plan.escape);
    if (i.kind === "ARG") vars.declare(i.args);
    if (i.kind === "ENV") for (const p of i.pairs) vars.setEnv(p.key, p.value);
    if (i.kind === "WORKDIR") seen.push(i.value);
    if (i.kind === "RUN") seen.push(i.command, i.line, i.endLine, vars.runEnv());
    if (i.kind === "COPY") seen.push(i.chown, i.sources, i.dest);
  }
  assert.deepEqual(seen, [
    "/opt/app",
    { form: "shell", text: "useradd -m app &&     chown app /opt/app" },
    8,
    9,
    ["PATH=/opt/app/bin:/usr/local/bin:/usr/bin", "APP_HOME=/opt/app", "VERSION=1.0 beta"],
    "app:app",
    ["src/"],
    "./src/",
  ]);

  const base = resolveBase(plan, target, globals).base;
  assert.equal(base.kind === "stage" && base.stage.name, "build");
  // The second stage starts from the first one's config Env; its ARG VERSION has no default and no global.
  const next = new StageVariables(globals, buildArgs, vars.configEnv());
  const config: Record<string, unknown> = {};
  for (const raw of target.instructions) {
    const i = expandInstruction(raw, next.lookup, plan.escape);
    if (i.kind === "ARG") next.declare(i.args);
    if (i.kind === "LABEL") config.labels = i.pairs;
    if (i.kind === "EXPOSE") config.ports = exposedPorts(i.ports, i.line);
    if (i.kind === "USER") config.user = i.value;
    if (i.kind === "ENTRYPOINT" || i.kind === "CMD") config[i.kind] = i.command;
  }
  assert.deepEqual(config, {
    labels: [{ key: "org.opencontainers.image.version", value: "" }],
    ports: ["8000/tcp", "9090/tcp"],
    user: "app",
    ENTRYPOINT: { form: "exec", args: ["/opt/app/bin/tool"] },
    CMD: { form: "exec", args: ["--help"] },
  });
});
