import { test } from "node:test";
import assert from "node:assert/strict";
import { substituteWord, substituteWords, SubstitutionError } from "../../../src/dockerfile/substitute.js";
import { expandInstruction } from "../../../src/dockerfile/expand.js";
import { parseDockerfile } from "../../../src/dockerfile/parse.js";
import { DockerfileError } from "../../../src/dockerfile/errors.js";

const vars: Record<string, string> = { foo: "/bar", empty: "", name: "world", ports: "80 443/udp" };
const lookup = (n: string): string | undefined => vars[n];
const word = (t: string, escape = "\\"): string => substituteWord(t, lookup, escape);

test("$var and ${var}; unset is empty; a lone $ stays", () => {
  assert.equal(word("$foo"), "/bar");
  assert.equal(word("${foo}_x"), "/bar_x");
  assert.equal(word("$foo_x"), "");
  assert.equal(word("a$unset-b"), "a-b");
  assert.equal(word("cost: 5$"), "cost: 5$");
  assert.equal(word("$1"), "$1");
});

test("${var:-word} and ${var-word}", () => {
  assert.equal(word("${unset:-dflt}"), "dflt");
  assert.equal(word("${empty:-dflt}"), "dflt");
  assert.equal(word("${empty-dflt}"), "");
  assert.equal(word("${foo:-dflt}"), "/bar");
  assert.equal(word("${unset:-$foo/x}"), "/bar/x");
  assert.equal(word("${unset:-${name:-no}}"), "world");
});

test("${var:+word} and ${var+word}", () => {
  assert.equal(word("${foo:+set}"), "set");
  assert.equal(word("${unset:+set}"), "");
  assert.equal(word("${empty:+set}"), "");
  assert.equal(word("${empty+set}"), "set");
});

test("${var:?message} fails when the variable is unset or empty", () => {
  assert.equal(word("${foo:?needed}"), "/bar");
  assert.throws(() => word("${empty:?must be set}"), /empty: must be set/);
  assert.throws(() => word("${unset?}"), /unset: is not set/);
  assert.equal(word("${empty?x}"), "");
});

test("the escape character makes $ literal, both with backslash and backtick", () => {
  assert.equal(word("\\$foo"), "$foo");
  assert.equal(word("\\${foo}"), "${foo}");
  assert.equal(word("`$foo", "`"), "$foo");
  assert.equal(word("c:\\dir", "`"), "c:\\dir");
  assert.equal(word("a\\ b"), "a b");
});

test("single quotes keep text literal, double quotes substitute; quotes are removed", () => {
  assert.equal(word("'$foo'"), "$foo");
  assert.equal(word('"$foo and $name"'), "/bar and world");
  assert.equal(word('"say \\"hi\\" \\$x \\n"'), 'say "hi" $x \\n');
  assert.equal(word("'it''s'"), "its");
});

test("malformed substitutions are SubstitutionErrors", () => {
  assert.throws(() => word("${foo"), SubstitutionError);
  assert.throws(() => word("'open"), /single-quote/);
  assert.throws(() => word('"open'), /double-quote/);
  assert.throws(() => word("${foo^^}"), /unsupported modifier \(\^\)/);
  assert.throws(() => word("${foo#*"), /missing '}'/);
  assert.throws(() => word("${}"), /bad substitution/);
});

test("${var#glob} ${var##glob} ${var%glob} ${var%%glob} (Dockerfile syntax 1.7)", () => {
  const v = (n: string): string | undefined => ({ file: "/home/tux/book/book.tar.bz2", v: "v1.2.3" })[n];
  const w = (t: string): string => substituteWord(t, v, "\\");
  assert.equal(w("${file#*/}"), "home/tux/book/book.tar.bz2");
  assert.equal(w("${file##*/}"), "book.tar.bz2");
  assert.equal(w("${file%.*}"), "/home/tux/book/book.tar");
  assert.equal(w("${file%%.*}"), "/home/tux/book/book");
  assert.equal(w("${v#v}"), "1.2.3");
  assert.equal(w("${v#x}"), "v1.2.3");
  assert.equal(w("${v%.[0-9]}"), "v1.2");
  assert.equal(w("${unset#x}"), "");
  // Quoted or escaped glob characters are literal.
  assert.equal(w("${file#'*'}"), "/home/tux/book/book.tar.bz2");
  assert.equal(w("${file%\\*}"), "/home/tux/book/book.tar.bz2");
});

test("${var/glob/text} replaces the first match, ${var//glob/text} every one", () => {
  const v = (n: string): string | undefined => ({ file: "/home/tux/book/book.tar.bz2", sep: "-" })[n];
  const w = (t: string): string => substituteWord(t, v, "\\");
  assert.equal(w("${file/tux/wilber}"), "/home/wilber/book/book.tar.bz2");
  assert.equal(w("${file//book/page}"), "/home/tux/page/page.tar.bz2");
  assert.equal(w("${file//\\//$sep}"), "-home-tux-book-book.tar.bz2");
  assert.equal(w("${file/book}"), "/home/tux//book.tar.bz2");
  assert.equal(w("${file/b?o/X}"), "/home/tux/Xk/book.tar.bz2");
});

test("substituteWords splits what unquoted variables bring, not what quotes hold", () => {
  assert.deepEqual(substituteWords("$ports 8080", lookup, "\\"), ["80", "443/udp", "8080"]);
  assert.deepEqual(substituteWords('"$ports"', lookup, "\\"), ["80 443/udp"]);
  assert.deepEqual(substituteWords("$empty", lookup, "\\"), []);
});

test("expandInstruction resolves the instructions Docker substitutes in and leaves RUN, CMD, ENTRYPOINT alone", () => {
  const df = parseDockerfile(
    [
      "FROM ${name}:1",
      "WORKDIR ${foo}",
      "ADD . $foo",
      "COPY \\$foo /quux",
      "COPY --chown=$name --from=$name a /x",
      'ENV A="$name x" B=$foo',
      "LABEL k=${name}",
      "EXPOSE $ports",
      'VOLUME ["$foo"]',
      "USER $name",
      "STOPSIGNAL ${sig:-SIGKILL}",
      "ARG X=$foo/y",
      "RUN echo $foo",
      "CMD echo $foo",
      'ENTRYPOINT ["$foo"]',
      "ONBUILD WORKDIR $foo",
    ].join("\n"),
  );
  const out = df.instructions.map((i) => expandInstruction(i, lookup, df.escape));
  const pick = (n: number): unknown => {
    const i = out[n]!;
    switch (i.kind) {
      case "FROM":
        return i.image;
      case "WORKDIR":
      case "USER":
      case "STOPSIGNAL":
        return i.value;
      case "COPY":
      case "ADD":
        return [i.sources, i.dest, i.chown ?? null, i.kind === "COPY" ? (i.from ?? null) : null];
      case "ENV":
      case "LABEL":
        return i.pairs;
      case "EXPOSE":
        return i.ports;
      case "VOLUME":
        return i.paths;
      case "ARG":
        return i.args;
      case "RUN":
      case "CMD":
      case "ENTRYPOINT":
        return i.command;
      case "ONBUILD":
        return i.expression;
      default:
        return null;
    }
  };
  assert.deepEqual(
    out.map((_, n) => pick(n)),
    [
      "world:1",
      "/bar",
      [["."], "/bar", null, null],
      [["$foo"], "/quux", null, null],
      [["a"], "/x", "world", "$name"],
      [
        { key: "A", value: "world x" },
        { key: "B", value: "/bar" },
      ],
      [{ key: "k", value: "world" }],
      ["80", "443/udp"],
      ["/bar"],
      "world",
      "SIGKILL",
      [{ name: "X", default: "/bar/y" }],
      { form: "shell", text: "echo $foo" },
      { form: "shell", text: "echo $foo" },
      { form: "exec", args: ["$foo"] },
      "WORKDIR $foo",
    ],
  );
});

test("one ENV line substitutes from the values before it", () => {
  const df = parseDockerfile("FROM x\nENV abc=bye def=$abc\n");
  const env = expandInstruction(df.instructions[1]!, (n) => ({ abc: "hello" })[n], "\\");
  assert.deepEqual(env.kind === "ENV" && env.pairs, [
    { key: "abc", value: "bye" },
    { key: "def", value: "hello" },
  ]);
});

test("a substitution mistake is a DockerfileError naming the instruction's line", () => {
  const df = parseDockerfile("FROM x\n\nWORKDIR ${foo\n");
  assert.throws(
    () => expandInstruction(df.instructions[1]!, lookup, "\\"),
    (e: unknown) =>
      e instanceof DockerfileError && e.line === 3 && /line 3: WORKDIR: missing '}'/.test(e.message),
  );
});
