import { test } from "node:test";
import assert from "node:assert/strict";
import { IgnoreMatcher, cleanContextPath, parseDockerignore } from "../../../src/dockerfile/ignore.js";
import { DockerfileError } from "../../../src/dockerfile/errors.js";

/** The paths of `paths` that the .dockerignore `text` leaves out. */
function ignored(text: string, paths: string[]): string[] {
  const m = new IgnoreMatcher(text);
  return paths.filter((p) => m.ignores(p));
}

test("comments, blank lines and surrounding blanks; cleaning of ./, leading / and trailing /", () => {
  const patterns = parseDockerignore("# comment\n\n  ./a/b/  \n/c\n!  ./d\n e/../f\n");
  assert.deepEqual(
    patterns.map((p) => [p.pattern, p.exception, p.line]),
    [
      ["a/b", false, 3],
      ["c", false, 4],
      ["d", true, 5],
      ["f", false, 6],
    ],
  );
  assert.equal(cleanContextPath("./x//y/"), "x/y");
  assert.equal(cleanContextPath("/"), ".");
});

test("the reference's example: */temp*, */*/temp*, temp?", () => {
  const text = "# comment\n*/temp*\n*/*/temp*\ntemp?\n";
  assert.deepEqual(
    ignored(text, [
      "somedir/temporary.txt",
      "somedir/temp",
      "somedir/subdir/temp.txt",
      "temp",
      "tempa",
      "temp.txt",
      "a/b/c/temp",
      "tempfile",
    ]),
    ["somedir/temporary.txt", "somedir/temp", "somedir/subdir/temp.txt", "tempa"],
  );
});

test("** matches any number of folders, none included", () => {
  const text = "**/*.go\n";
  assert.deepEqual(ignored(text, ["main.go", "a/b/c.go", "a/b/c.txt", "go"]), ["main.go", "a/b/c.go"]);
  assert.deepEqual(ignored("a/**/z\n", ["a/z", "a/b/z", "a/b/c/z", "b/z"]), ["a/z", "a/b/z", "a/b/c/z"]);
  assert.deepEqual(ignored("**\n", ["x", "a/b"]), ["x", "a/b"]);
});

test("a folder left out takes everything under it", () => {
  assert.deepEqual(
    ignored("node_modules\n.git\n", ["node_modules", "node_modules/a/b.js", ".git/HEAD", "src/node_modules"]),
    ["node_modules", "node_modules/a/b.js", ".git/HEAD"],
  );
});

test("! exceptions, the last matching line wins", () => {
  assert.deepEqual(ignored("*.md\n!README.md\n", ["a.md", "README.md"]), ["a.md"]);
  assert.deepEqual(
    ignored("*.md\n!README*.md\nREADME-secret.md\n", ["a.md", "README.md", "README-secret.md"]),
    ["a.md", "README-secret.md"],
  );
  assert.deepEqual(ignored("!README.md\n*.md\n", ["README.md"]), ["README.md"]);
});

test("an exception inside a left-out folder is walked into; other files there stay out", () => {
  const text = "docs\n!docs/keep.txt\n";
  assert.deepEqual(ignored(text, ["docs", "docs/keep.txt", "docs/other.txt"]), ["docs", "docs/other.txt"]);
  // With no exception under it, the folder is not walked into: an exception elsewhere does not help.
  assert.deepEqual(ignored("build\n!*.keep\n", ["build/a.keep", "top.keep"]), ["build/a.keep"]);
});

test("everything out but one folder: * then !docs keeps the folder and all under it", () => {
  assert.deepEqual(ignored("*\n!docs\n", ["a.txt", "src/x.ts", "docs", "docs/guide/x.md"]), [
    "a.txt",
    "src/x.ts",
  ]);
  // The reference's case: everything markdown out but README files, and Dockerfile kept apart by the builder.
  assert.deepEqual(ignored("*.md\n!README*.md\n", ["CHANGES.md", "README-dev.md", "sub/CHANGES.md"]), [
    "CHANGES.md",
  ]);
});

test("character classes, ranges, negation and escapes as in Go's filepath.Match", () => {
  assert.deepEqual(ignored("file[0-9].txt\n", ["file1.txt", "filea.txt"]), ["file1.txt"]);
  assert.deepEqual(ignored("file[!0-9].txt\n", ["file1.txt", "filea.txt"]), ["filea.txt"]);
  assert.deepEqual(ignored("\\*star\n", ["*star", "xstar"]), ["*star"]);
  assert.deepEqual(ignored("a.b\n", ["a.b", "axb"]), ["a.b"]);
  assert.deepEqual(ignored("*\n", ["x", "dir/y"]), ["x", "dir/y"]);
});

test("* and ? do not cross folders", () => {
  assert.deepEqual(ignored("a*/b\n", ["ab/b", "a/x/b"]), ["ab/b"]);
  assert.deepEqual(ignored("a?c\n", ["abc", "a/c"]), ["abc"]);
});

test("queried paths are cleaned the same way; the context root is never left out", () => {
  const m = new IgnoreMatcher("secret\n");
  assert.equal(m.ignores("./secret"), true);
  assert.equal(m.ignores("/secret/x"), true);
  assert.equal(m.ignores("."), false);
  assert.equal(new IgnoreMatcher("").ignores("anything"), false);
});

test("a malformed pattern names its .dockerignore line", () => {
  assert.throws(
    () => parseDockerignore("ok\n\nbad[\n"),
    (e: unknown) =>
      e instanceof DockerfileError &&
      e.line === 3 &&
      /^\.dockerignore line 3: syntax error in pattern "bad\["/.test(e.message),
  );
  assert.throws(() => parseDockerignore("x\\\n"), /line 1: .*ends with an escape/);
});
