// The build contexts the build tests give both `burrow build` and `podman build`: Dockerfiles as a user
// would write them, over the Debian and Alpine test images, written into a fresh folder.
import fsp from "node:fs/promises";
import path from "node:path";
import { writeTar } from "./tar-writer.js";
import { gzipSync } from "node:zlib";

/** A file of a context: text (mode 0644), or content with a mode, or a symlink. */
export type ContextFile = string | { content: string | Buffer; mode: number } | { symlink: string };

/** One build: its context files (the Dockerfile among them), build arguments and what to check. */
export interface BuildCase {
  /** Short name, used in test names and repository names. */
  name: string;
  /** What it covers, for the test name. */
  covers: string;
  /** True when a stage starts from the Debian image (which the harness may lack). */
  needsDebian: boolean;
  files: Record<string, ContextFile>;
  /** --build-arg values. */
  buildArgs?: Record<string, string>;
  /** --target. */
  target?: string;
  /** Paths (no leading /) the image must not have, whatever Podman did: what .dockerignore excludes. */
  absent?: string[];
  /** Paths the image must have (a .dockerignore exception brings back). */
  present?: string[];
  /** What `run IMAGE` (no arguments) prints, exactly; undefined where the image has nothing to run. */
  output?: string;
}

/** The bases the Dockerfiles start from: registry references both builders can pull. */
export interface BuildBases {
  debian: string;
  alpine: string;
}

/** Writes the files of a context into `dir` (made if missing). */
export async function writeContext(dir: string, files: Record<string, ContextFile>): Promise<void> {
  for (const [name, f] of Object.entries(files)) {
    const p = path.join(dir, name);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    if (typeof f === "string") await fsp.writeFile(p, f, { mode: 0o644 });
    else if ("symlink" in f) await fsp.symlink(f.symlink, p);
    else {
      await fsp.writeFile(p, f.content);
      await fsp.chmod(p, f.mode);
    }
  }
}

/** The lines of a Dockerfile, joined. */
const lines = (...l: string[]): string => l.join("\n") + "\n";

/** A small .tar.gz for ADD to unpack: a folder, a text file, a program, a symlink. */
function vendorTarball(): Buffer {
  return gzipSync(
    writeTar([
      { path: "vendor/", type: "dir", mode: 0o755 },
      { path: "vendor/lib.txt", type: "file", content: "vendored library\n" },
      { path: "vendor/bin/", type: "dir", mode: 0o750 },
      { path: "vendor/bin/tool", type: "file", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
      { path: "vendor/current", type: "symlink", linkname: "lib.txt" },
    ]),
  );
}

/** Multi-stage: a Debian stage generates a program and data, an Alpine stage copies them with --from. */
export function multiStage(b: BuildBases): BuildCase {
  return {
    name: "multistage",
    needsDebian: true,
    covers: "multi-stage, COPY --from, ENTRYPOINT with CMD",
    files: {
      Dockerfile: lines(
        "# syntax is plain Dockerfile; the build stage makes what the final one ships",
        `FROM ${b.debian} AS build`,
        "WORKDIR /src",
        "COPY gen.sh table.txt ./",
        "RUN sh gen.sh table.txt > /src/report.txt \\",
        " && mkdir -p /out/bin /out/share \\",
        " && printf '#!/bin/sh\\necho \"hello from the build stage: $*\"\\ncat /opt/app/share/report.txt\\n' > /out/bin/hello \\",
        " && chmod 0755 /out/bin/hello \\",
        " && cp /src/report.txt /out/share/",
        "",
        `FROM ${b.alpine}`,
        "COPY --from=build /out/ /opt/app/",
        "COPY --from=build /src/report.txt /srv/report.txt",
        'ENTRYPOINT ["/opt/app/bin/hello"]',
        'CMD ["one", "two"]',
      ),
      "gen.sh": 'awk \'{ s += $2; print $1 ": " $2 } END { print "total: " s }\' "$1"\n',
      "table.txt": "apples 3\npears 4\nplums 5\n",
    },
    output: "hello from the build stage: one two\napples: 3\npears: 4\nplums: 5\ntotal: 12\n",
  };
}

/** A Debian service image: useradd, chown, USER before ENTRYPOINT, and every config instruction. */
export function debianUser(b: BuildBases): BuildCase {
  return {
    name: "debian-user",
    needsDebian: true,
    covers: "useradd, chown -R, USER, WORKDIR, ENV, LABEL, EXPOSE, VOLUME, STOPSIGNAL, ARG with --build-arg",
    files: {
      Dockerfile: lines(
        `FROM ${b.debian}`,
        "ARG APP_VERSION=0",
        "ARG UNUSED=x",
        'LABEL org.opencontainers.image.title="tool" org.example.version="${APP_VERSION}"',
        "ENV APP_HOME=/app \\",
        "    GREETING=hello",
        "RUN useradd -m -s /bin/bash app \\",
        " && mkdir -p /app/data /app/logs \\",
        ' && echo "version $APP_VERSION" > /app/VERSION \\',
        " && touch /app/logs/app.log \\",
        " && chown -R app:app /app",
        "COPY --chown=app:app run.sh /app/run.sh",
        "WORKDIR $APP_HOME",
        "EXPOSE 8080/tcp 9090/udp",
        'VOLUME ["/app/data"]',
        "STOPSIGNAL SIGINT",
        "USER app",
        'ENTRYPOINT ["/bin/sh", "/app/run.sh"]',
        'CMD ["--serve"]',
      ),
      "run.sh": 'echo "$GREETING $(id -un) $(id -u) in $(pwd) home=$HOME args=$*"\ncat /app/VERSION\n',
    },
    buildArgs: { APP_VERSION: "3" },
    output: "hello app 1000 in /app home=/home/app args=--serve\nversion 3\n",
  };
}

/** A context with a .dockerignore, globs, --chown, --chmod, a symlink and a local tarball for ADD. */
export function contextFiles(b: BuildBases): BuildCase {
  return {
    name: "context",
    needsDebian: false,
    covers: ".dockerignore, COPY globs, --chown, --chmod, a symlink, ADD of a local .tar.gz",
    files: {
      Dockerfile: lines(
        `FROM ${b.alpine}`,
        "COPY *.txt /data/",
        "COPY --chown=1234:5678 conf/ /data/conf/",
        "COPY --chmod=0640 notes.md /data/notes.md",
        "COPY --chmod=755 tool.sh /usr/local/bin/tool",
        "COPY link-to-a keep.log /data/",
        "ADD vendor.tar.gz /opt/",
        "COPY . /ctx/",
        'CMD ["/usr/local/bin/tool"]',
      ),
      ".dockerignore": lines(
        "# build noise and secrets stay out",
        "*.log",
        "!keep.log",
        "secret",
        "**/*.tmp",
      ),
      "a.txt": "a\n",
      "b.txt": "b\n",
      "notes.md": "# notes\n",
      "debug.log": "excluded\n",
      "keep.log": "kept despite *.log\n",
      "secret/key": "must never be copied\n",
      "conf/app.conf": "x=1\n",
      "conf/sub/more.conf": "y=2\n",
      "conf/sub/scratch.tmp": "excluded\n",
      "tool.sh": { content: "#!/bin/sh\nls /data\nls /data/conf\nls /opt/vendor\n", mode: 0o600 },
      "link-to-a": { symlink: "a.txt" },
      "vendor.tar.gz": { content: vendorTarball(), mode: 0o644 },
    },
    absent: [
      "ctx/debug.log",
      "ctx/secret",
      "ctx/secret/key",
      "ctx/conf/sub/scratch.tmp",
      "data/conf/sub/scratch.tmp",
    ],
    output: "a.txt\nb.txt\nconf\nkeep.log\nlink-to-a\nnotes.md\napp.conf\nsub\nbin\ncurrent\nlib.txt\n",
  };
}

/** apt-get from the Debian mirror (only where it is reachable). */
export function aptInstall(b: BuildBases): BuildCase {
  return {
    name: "apt",
    needsDebian: true,
    covers: "RUN apt-get update && apt-get install -y --no-install-recommends",
    files: {
      Dockerfile: lines(
        `FROM ${b.debian}`,
        "RUN apt-get update \\",
        " && apt-get install -y --no-install-recommends hello \\",
        " && rm -rf /var/lib/apt/lists/*",
        'CMD ["hello", "-g", "built"]',
      ),
    },
    output: "built\n",
  };
}

/** RUN steps that delete base files and folders, and replace a folder: whiteouts and opaque folders. */
export function deletions(b: BuildBases): BuildCase {
  return {
    name: "whiteouts",
    needsDebian: true,
    covers: "RUN deleting a base file and a folder, replacing a folder (whiteouts, opaque folders)",
    files: {
      Dockerfile: lines(
        `FROM ${b.debian}`,
        "RUN rm /etc/issue.net && rm -rf /usr/share/doc /var/cache/debconf",
        "RUN rm -rf /usr/share/man && mkdir /usr/share/man && echo new > /usr/share/man/README",
        "RUN mkdir -p /opt/tmp/deep && touch /opt/tmp/deep/f && rm -rf /opt/tmp",
        "RUN rm /etc/motd && mkdir /etc/motd && echo folder > /etc/motd/now",
        'CMD ["sh", "-c", "ls /usr/share/man; test -e /usr/share/doc || echo no-doc; cat /etc/motd/now"]',
      ),
    },
    output: "README\nno-doc\nfolder\n",
  };
}

/** Every build the comparison runs, in order; `apt` is separate (it needs the mirror). */
export function buildCases(b: BuildBases): BuildCase[] {
  return [multiStage(b), debianUser(b), contextFiles(b), deletions(b)];
}
