import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDockerfile } from "../../../src/dockerfile/parse.js";
import { DockerfileError } from "../../../src/dockerfile/errors.js";
import type { Instruction } from "../../../src/dockerfile/instructions.js";

/** The instructions of a Dockerfile text. */
function parse(text: string): Instruction[] {
  return parseDockerfile(text).instructions;
}

/** Asserts that parsing fails with a DockerfileError whose message holds `line N:` and `fragment`. */
function refuses(text: string, line: number, fragment: string | RegExp): void {
  assert.throws(
    () => parseDockerfile(text),
    (error: unknown) => {
      assert.ok(error instanceof DockerfileError, String(error));
      assert.equal(error.code, "ERR_DOCKERFILE");
      assert.equal(error.line, line, error.message);
      assert.equal(error.exitCode, 125);
      if (line > 0) assert.match(error.message, new RegExp(`^Dockerfile line ${line}: `));
      if (typeof fragment === "string") assert.ok(error.message.includes(fragment), error.message);
      else assert.match(error.message, fragment);
      return true;
    },
  );
}

test("instructions are case-insensitive and keep their line and original text", () => {
  const [from, run] = parse("from debian:12\n\nrun echo hi\n");
  assert.equal(from?.kind, "FROM");
  assert.equal(from?.line, 1);
  assert.equal(run?.kind, "RUN");
  assert.equal(run?.line, 3);
  assert.equal(run?.original, "run echo hi");
});

test("comments and blank lines are dropped; # inside an argument is kept", () => {
  const [, run] = parse("# a comment\nFROM x\n   # indented comment\nRUN echo a # not a comment\n");
  assert.deepEqual(run?.kind === "RUN" && run.command, { form: "shell", text: "echo a # not a comment" });
});

test("continuations join with no separator, skip comment and empty lines, and record both lines", () => {
  const [, run] = parse(
    "FROM x\nRUN apt-get update && \\\n    # a comment in the middle\n\n    apt-get install -y curl\nUSER 1\n",
  );
  assert.equal(run?.kind, "RUN");
  assert.equal(run?.line, 2);
  assert.equal(run?.endLine, 5);
  assert.deepEqual(run?.kind === "RUN" && run.command, {
    form: "shell",
    text: "apt-get update &&     apt-get install -y curl",
  });
  assert.equal(run?.original, "RUN apt-get update &&     apt-get install -y curl");
});

test("a continuation with blanks after the escape character still continues; a file may end inside one", () => {
  const [, run] = parse("FROM x\nRUN echo a\\  \nb\\\n");
  assert.deepEqual(run?.kind === "RUN" && run.command, { form: "shell", text: "echo ab" });
});

test("# escape=` makes the backtick the continuation character and the backslash plain", () => {
  const df = parseDockerfile("# escape=`\nFROM x\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  /w\n");
  assert.equal(df.escape, "`");
  const [, copy, run] = df.instructions;
  assert.equal(copy?.kind === "COPY" && copy.dest, "c:\\");
  assert.deepEqual(run?.kind === "RUN" && run.command, { form: "shell", text: "dir c:\\   /w" });
});

test("directives: case-insensitive names, blanks allowed, syntax kept", () => {
  const df = parseDockerfile("#  SYNTAX = docker/dockerfile:1\n#Escape=`\nFROM x\n");
  assert.equal(df.syntax, "docker/dockerfile:1");
  assert.equal(df.escape, "`");
});

test("a directive after a comment, a blank line or an instruction is only a comment", () => {
  assert.equal(parseDockerfile("# about this file\n# escape=`\nFROM x\n").escape, "\\");
  assert.equal(parseDockerfile("\n# escape=`\nFROM x\n").escape, "\\");
  assert.equal(parseDockerfile("FROM x\n# escape=`\n").escape, "\\");
  assert.equal(parseDockerfile("# unknowndirective=value\n# escape=`\nFROM x\n").escape, "\\");
});

test("a repeated directive or a bad escape value names the line", () => {
  refuses("# escape=`\n# escape=`\nFROM x\n", 2, "only one escape parser directive");
  refuses("# escape=x\nFROM x\n", 1, "invalid escape token 'x'");
});

test("an unknown instruction names its line and word", () => {
  refuses("FROM x\nRUN true\nFOO bar\n", 3, "unknown instruction: FOO");
  refuses("FROM x\nRUN a \\\n  b\nCOPPY a b\n", 4, "unknown instruction: COPPY");
});

test("an empty Dockerfile is refused", () => {
  refuses("# just a comment\n\n", 0, "empty");
});

test("heredocs are refused by name with their line", () => {
  refuses("FROM x\nRUN <<EOF\necho hi\nEOF\n", 2, "heredoc");
  refuses("FROM x\nCOPY <<-'EOT' /etc/x\n", 2, "heredoc");
  refuses('FROM x\nRUN python3 2<<"EOF" > out\n', 2, "heredoc");
  // A here-string, or << that is not a word of its own, is no heredoc (as in Docker).
  for (const text of ["cat <<<hello", "echo '<<EOF'x", "cat<<EOF", "echo a << b"]) {
    const [, run] = parse(`FROM x\nRUN ${text}\n`);
    assert.deepEqual(run?.kind === "RUN" && run.command, { form: "shell", text });
  }
});

test("FROM: image, --platform and AS name (lower-cased)", () => {
  const [a, b] = parse("FROM --platform=linux/arm64 debian:12 AS Build\nFROM build as final\n");
  assert.deepEqual(a?.kind === "FROM" && [a.image, a.platform, a.name], [
    "debian:12",
    "linux/arm64",
    "build",
  ]);
  assert.deepEqual(b?.kind === "FROM" && [b.image, b.platform, b.name], ["build", undefined, "final"]);
});

test("FROM mistakes", () => {
  refuses("FROM\n", 1, "FROM requires either one or three arguments");
  refuses("FROM a b\n", 1, "FROM requires either one or three arguments");
  refuses("FROM a AS 1x\n", 1, 'invalid stage name "1x"');
  refuses("FROM --plat=x a\n", 1, "unknown flag for FROM: --plat");
});

test("RUN, CMD and ENTRYPOINT: exec form when the text is a JSON array of strings, else shell form", () => {
  const [, run, cmd, ep, bad] = parse(
    'FROM x\nRUN ["/bin/sh", "-c", "echo hi"]\nCMD ["a b"]\nENTRYPOINT exec tool\nCMD [\'single\', \'quotes\']\n',
  );
  assert.deepEqual(run?.kind === "RUN" && run.command, { form: "exec", args: ["/bin/sh", "-c", "echo hi"] });
  assert.deepEqual(cmd?.kind === "CMD" && cmd.command, { form: "exec", args: ["a b"] });
  assert.deepEqual(ep?.kind === "ENTRYPOINT" && ep.command, { form: "shell", text: "exec tool" });
  assert.deepEqual(bad?.kind === "CMD" && bad.command, { form: "shell", text: "['single', 'quotes']" });
});

test("RUN flags: --network host/default kept, --mount and --security refused by name", () => {
  const [, run] = parse("FROM x\nRUN --network=host curl x\n");
  assert.equal(run?.kind === "RUN" && run.network, "host");
  refuses(
    "FROM x\nRUN --mount=type=cache,target=/root/.cache pip install x\n",
    2,
    "RUN --mount is not supported by burrow",
  );
  refuses("FROM x\nRUN --security=insecure true\n", 2, "RUN --security is not supported");
  refuses("FROM x\nRUN --network=none true\n", 2, "RUN --network=none is not supported");
  refuses("FROM x\nRUN --frobnicate true\n", 2, "unknown flag for RUN: --frobnicate");
  refuses("FROM x\nRUN\n", 2, "RUN requires at least one argument");
});

test("SHELL takes only the JSON form", () => {
  const [, shell] = parse('FROM x\nSHELL ["/bin/bash", "-eo", "pipefail", "-c"]\n');
  assert.deepEqual(shell?.kind === "SHELL" && shell.shell, ["/bin/bash", "-eo", "pipefail", "-c"]);
  refuses("FROM x\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments to be in JSON form");
  refuses("FROM x\nSHELL []\n", 2, "SHELL requires at least one argument");
});

test("COPY and ADD: sources, destination, flags, JSON form for paths with blanks", () => {
  const [, copy, add, json] = parse(
    'FROM x\nCOPY --from=build --chown=app:app --chmod=0755 --link a b /dst/\nADD pkg.tar.gz /opt\nCOPY ["my file", "other file", "/dst dir/"]\n',
  );
  assert.ok(copy?.kind === "COPY");
  assert.deepEqual(
    [copy.sources, copy.dest, copy.from, copy.chown, copy.chmod, copy.link, copy.json],
    [["a", "b"], "/dst/", "build", "app:app", "0755", true, false],
  );
  assert.ok(add?.kind === "ADD");
  assert.deepEqual([add.sources, add.dest, add.link], [["pkg.tar.gz"], "/opt", false]);
  assert.ok(json?.kind === "COPY");
  assert.deepEqual([json.sources, json.dest, json.json], [["my file", "other file"], "/dst dir/", true]);
});

test("COPY and ADD mistakes and unsupported flags", () => {
  refuses("FROM x\nCOPY onlyone\n", 2, "COPY requires at least two arguments, but got 1");
  refuses("FROM x\nADD --from=a b c\n", 2, "unknown flag for ADD: --from");
  refuses("FROM x\nCOPY --parents a/ /b\n", 2, "COPY --parents is not supported by burrow");
  refuses("FROM x\nCOPY --exclude=*.md . /b\n", 2, "COPY --exclude is not supported by burrow");
  refuses("FROM x\nADD --checksum=sha256:0 https://x/y /z\n", 2, "ADD --checksum is not supported by burrow");
  refuses("FROM x\nADD --keep-git-dir https://x/y.git /z\n", 2, "ADD --keep-git-dir is not supported");
  refuses("FROM x\nCOPY --chown= a b\n", 2, "COPY --chown requires a value");
});

test("ENV: the key=value form with quotes and escapes kept raw, and the legacy key value form", () => {
  const [, a, b] = parse('FROM x\nENV A=1 B="two words" C=three\\ words\nENV LEGACY  the rest of the line\n');
  assert.deepEqual(a?.kind === "ENV" && a.pairs, [
    { key: "A", value: "1" },
    { key: "B", value: '"two words"' },
    { key: "C", value: "three\\ words" },
  ]);
  assert.deepEqual(b?.kind === "ENV" && b.pairs, [{ key: "LEGACY", value: "the rest of the line" }]);
});

test("ENV and LABEL mistakes", () => {
  refuses("FROM x\nENV\n", 2, "ENV requires at least one argument");
  refuses("FROM x\nENV ONLYKEY\n", 2, "ENV must have two arguments");
  refuses("FROM x\nENV A=1 B\n", 2, 'can\'t find = in "B"');
  refuses("FROM x\nLABEL =x\n", 2, "LABEL names can not be blank");
});

test("LABEL keeps its pairs; MAINTAINER is kept for the image's Author", () => {
  const [, label, m] = parse(
    'FROM x\nLABEL org.opencontainers.image.title="My tool" version=2\nMAINTAINER Jane <j@x.org>\n',
  );
  assert.deepEqual(label?.kind === "LABEL" && label.pairs, [
    { key: "org.opencontainers.image.title", value: '"My tool"' },
    { key: "version", value: "2" },
  ]);
  assert.equal(m?.kind === "MAINTAINER" && m.maintainer, "Jane <j@x.org>");
});

test("ARG with and without default, several on one line, before FROM", () => {
  const [arg, , inner] = parse("ARG BASE=debian:12\nFROM $BASE\nARG A B=2 C=\n");
  assert.deepEqual(arg?.kind === "ARG" && arg.args, [{ name: "BASE", default: "debian:12" }]);
  assert.deepEqual(inner?.kind === "ARG" && inner.args, [
    { name: "A" },
    { name: "B", default: "2" },
    { name: "C", default: "" },
  ]);
  refuses("FROM x\nARG\n", 2, "ARG requires at least one argument");
  refuses("FROM x\nARG 1BAD=2\n", 2, 'ARG: invalid name "1BAD"');
});

test("WORKDIR, USER, STOPSIGNAL take one argument", () => {
  const [, w, u, s] = parse("FROM x\nWORKDIR /my dir\nUSER app:app\nSTOPSIGNAL SIGTERM\n");
  assert.equal(w?.kind === "WORKDIR" && w.value, "/my dir");
  assert.equal(u?.kind === "USER" && u.value, "app:app");
  assert.equal(s?.kind === "STOPSIGNAL" && s.value, "SIGTERM");
  refuses("FROM x\nUSER\n", 2, "USER requires exactly one argument");
  refuses("FROM x\nUSER a b\n", 2, "USER requires exactly one argument");
  refuses("FROM x\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument");
});

test("EXPOSE and VOLUME in both forms", () => {
  const [, e, v1, v2] = parse(
    'FROM x\nEXPOSE 80/tcp 53/udp 8080\nVOLUME ["/data", "/my logs"]\nVOLUME /a /b\n',
  );
  assert.deepEqual(e?.kind === "EXPOSE" && e.ports, ["80/tcp", "53/udp", "8080"]);
  assert.deepEqual(v1?.kind === "VOLUME" && [v1.paths, v1.json], [["/data", "/my logs"], true]);
  assert.deepEqual(v2?.kind === "VOLUME" && [v2.paths, v2.json], [["/a", "/b"], false]);
  refuses("FROM x\nEXPOSE\n", 2, "EXPOSE requires at least one argument");
  refuses('FROM x\nVOLUME [""]\n', 2, "VOLUME specified can not be an empty string");
});

test("HEALTHCHECK: NONE, CMD in both forms, durations in nanoseconds, retries", () => {
  const [, none, shell, exec] = parse(
    'FROM x\nHEALTHCHECK NONE\nHEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/ || exit 1\nhealthcheck cmd ["/bin/check", "--quick"]\n',
  );
  assert.deepEqual(none?.kind === "HEALTHCHECK" && none.test, ["NONE"]);
  assert.ok(shell?.kind === "HEALTHCHECK");
  assert.deepEqual(shell.test, ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]);
  assert.deepEqual(
    [shell.interval, shell.timeout, shell.startPeriod, shell.startInterval, shell.retries],
    [30e9, 90e9, 500e6, 2e9, 3],
  );
  assert.deepEqual(exec?.kind === "HEALTHCHECK" && exec.test, ["CMD", "/bin/check", "--quick"]);
});

test("HEALTHCHECK mistakes", () => {
  refuses("FROM x\nHEALTHCHECK NONE now\n", 2, "HEALTHCHECK NONE takes no arguments");
  refuses("FROM x\nHEALTHCHECK --interval=5s NONE\n", 2, "HEALTHCHECK NONE takes no options");
  refuses("FROM x\nHEALTHCHECK RUN x\n", 2, 'unknown type "RUN"');
  refuses("FROM x\nHEALTHCHECK CMD\n", 2, "HEALTHCHECK CMD requires a command");
  refuses("FROM x\nHEALTHCHECK --interval=5 CMD x\n", 2, 'invalid duration "5"');
  refuses("FROM x\nHEALTHCHECK --timeout=10us CMD x\n", 2, "cannot be less than 1ms");
  refuses("FROM x\nHEALTHCHECK --retries=-1 CMD x\n", 2, "--retries must be a whole number");
  refuses("FROM x\nHEALTHCHECK --every=5s CMD x\n", 2, "unknown flag for HEALTHCHECK: --every");
});

test("ONBUILD keeps its trigger parsed and its text; chaining, FROM and MAINTAINER are refused", () => {
  const [, ob] = parse("FROM x\nONBUILD COPY --chown=1 . /app/src\n");
  assert.ok(ob?.kind === "ONBUILD");
  assert.equal(ob.expression, "COPY --chown=1 . /app/src");
  assert.equal(ob.trigger.kind, "COPY");
  refuses("FROM x\nONBUILD ONBUILD RUN x\n", 2, "ONBUILD ONBUILD");
  refuses("FROM x\nONBUILD FROM y\n", 2, "FROM isn't allowed as an ONBUILD trigger");
  refuses("FROM x\nONBUILD MAINTAINER me\n", 2, "MAINTAINER isn't allowed as an ONBUILD trigger");
  refuses("FROM x\nONBUILD BOGUS y\n", 2, "unknown instruction: BOGUS");
});

test("flags on instructions that take none are refused", () => {
  refuses("FROM x\nWORKDIR --x=1 /a\n", 2, "unknown flag for WORKDIR: --x");
  refuses("FROM x\nCMD --help\n", 2, "unknown flag for CMD: --help");
});

test("CRLF line ends and a byte order mark are accepted", () => {
  const [from, run] = parse("\uFEFFFROM x\r\nRUN echo a \\\r\n  b\r\n");
  assert.equal(from?.kind === "FROM" && from.image, "x");
  assert.deepEqual(run?.kind === "RUN" && run.command, { form: "shell", text: "echo a   b" });
});

test("a Dockerfile given by path is named in the error", () => {
  assert.throws(
    () => parseDockerfile("FROM x\nBAD\n", "docker/Dockerfile.dev"),
    /^DockerfileError: docker\/Dockerfile.dev line 2: unknown instruction: BAD$/,
  );
  assert.throws(
    () => parseDockerfile("", "ctx/Dockerfile"),
    /^DockerfileError: ctx\/Dockerfile: the Dockerfile is empty/,
  );
});
