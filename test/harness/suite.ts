// What most integration test files set up first: a `burrow` that runs in their test home against the
// plain registry, the Alpine fixture pushed there, the exit-status checks, and the engines to loop over.
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { chownToTestUser, runBurrow, testEnv } from "./env.js";
import type { BurrowResult, BurrowRunOptions, TestHome } from "./env.js";
import { layerFromTarball, pushImage, uniqueRepo } from "./image-builder.js";
import type { Layer, PushedImage } from "./image-builder.js";

/** docker's PATH, for images that set none. */
export const DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The engines a per-engine suite runs against, each through `--engine`; BURROW_TEST_ENGINES (comma list) picks some. */
export const TEST_ENGINES: string[] = process.env.BURROW_TEST_ENGINES?.split(",").filter(Boolean) ?? [
  "userns",
  "runc",
  "proot",
];

/** The variable that marks the harness's plain-HTTP registry insecure. */
export function plainRegistryEnv(): { BURROW_INSECURE_REGISTRIES: string } {
  return { BURROW_INSECURE_REGISTRIES: testEnv().registries.plain.host };
}

/** A `burrow ...args` runner in the home `home()` returns, with plainRegistryEnv(), then `extraEnv()`, then opts.env. */
export function burrowIn(
  home: () => TestHome,
  extraEnv: () => Record<string, string> = () => ({}),
): (args: string[], opts?: BurrowRunOptions) => Promise<BurrowResult> {
  return (args, opts = {}) =>
    runBurrow(args, {
      home: home(),
      ...opts,
      env: { ...plainRegistryEnv(), ...extraEnv(), ...(opts.env ?? {}) },
    });
}

/** A run's exit status (and signal), stdout and stderr, for assertion messages (any program's run, not only burrow's). */
export const show = (r: Omit<BurrowResult, "args">): string =>
  `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** Asserts a zero exit status and returns stdout. */
export function ok(r: Omit<BurrowResult, "args">): string {
  assert.equal(r.code, 0, show(r));
  return r.stdout;
}

/**
 * The command word of `burrow ...args`: the first argument that is not an option (`--repo DIR` takes a
 * value, skipped), or the next one after docker's group words (`container exec` is exec). Worked out here
 * rather than taken from src, so that the tests state the contract.
 */
export function commandWord(args: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const a = args[i]!;
    if (a === "--repo") i++;
    else if (!a.startsWith("-")) words.push(a);
  }
  return words[0] === "container" || words[0] === "image" ? words[1] : words[0];
}

/**
 * The status `burrow ...args` must exit with when burrow itself fails (DESIGN.md, "Exit status", as docker
 * and udocker give it): 125 for `run` and `exec`, whose other statuses are the program's; 1 for every other
 * command (a missing image, a protected container, a registry error, a bad archive...).
 */
export function failureStatusFor(args: readonly string[]): number {
  const word = commandWord(args);
  return word === "run" || word === "exec" ? 125 : 1;
}

/** Asserts one line on stderr, matching `message` when given. */
function oneLine(r: BurrowResult, message?: RegExp): void {
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line on stderr:\n${r.stderr}`);
  if (message) assert.match(r.stderr, message);
}

/**
 * Asserts burrow's own failure with the contract's status (failureStatusFor the run's arguments: 125 for
 * `run` and `exec`, 1 for every other command) and exactly one line on stderr, matching `message` when given.
 */
export function burrowFails(r: BurrowResult, message?: RegExp): void {
  assert.equal(r.code, failureStatusFor(r.args), `burrow ${r.args.join(" ")}: ${show(r)}`);
  oneLine(r, message);
}

/** Asserts a usage error (an unknown command or option, whatever the command): status 125 and one line on stderr. */
export function failsWithUsage(r: BurrowResult, message?: RegExp): void {
  assert.equal(r.code, 125, `burrow ${r.args.join(" ")}: ${show(r)}`);
  oneLine(r, message);
}

let alpine: Promise<Layer> | undefined;

/** The Alpine fixture tarball as a layer, read once per test file. */
export function alpineLayer(): Promise<Layer> {
  alpine ??= layerFromTarball(testEnv().alpine);
  return alpine;
}

/** What pushAlpine pushes besides the Alpine layer, and how. */
export interface AlpineImageOptions {
  /** The tag (default "1"). */
  tag?: string;
  /** Variables after docker's PATH in the config's Env. */
  env?: string[];
  /** The config's Labels. */
  labels?: Record<string, string>;
  /** Layers over the Alpine one. */
  layers?: Layer[];
  /** Manifest and config media types (default oci). */
  format?: "docker" | "oci";
}

/** Pushes Alpine (CMD /bin/sh, docker's PATH) to the plain registry as a new repository `<prefix>-<random>`. */
export async function pushAlpine(prefix: string, opts: AlpineImageOptions = {}): Promise<PushedImage> {
  const { tag = "1", env = [], labels, layers = [], format } = opts;
  return pushImage("plain", uniqueRepo(prefix), tag, [await alpineLayer(), ...layers], {
    format,
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`, ...env], ...(labels ? { Labels: labels } : {}) },
  });
}

/** pushAlpine, then `burrow pull` of it (asserted to succeed); returns the image reference. */
export async function pullAlpine(
  burrow: (args: string[]) => Promise<BurrowResult>,
  prefix: string,
  opts: AlpineImageOptions = {},
): Promise<string> {
  const { ref } = await pushAlpine(prefix, opts);
  ok(await burrow(["pull", ref]));
  return ref;
}

/** Puts a `burrow` running the staged CLI in HOME/bin (as a site install gives one); returns that folder. */
export async function installBurrowCommand(home: TestHome): Promise<string> {
  const bin = path.join(home.dir, "bin");
  await fsp.mkdir(bin);
  await fsp.writeFile(
    path.join(bin, "burrow"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} -- ${JSON.stringify(testEnv().cli)} "$@"\n`,
    { mode: 0o755 },
  );
  await chownToTestUser(bin);
  return bin;
}

/**
 * Pushes the Alpine image (as pushAlpine makes it) to the plain registry as Docker Hub names it,
 * `library/alpine:TAG`, where a mirror of docker.io finds it (hubMirrorEnv). The bytes are the same every
 * time, so test files pushing it at once agree.
 */
export async function pushHubAlpine(tag = "latest"): Promise<PushedImage> {
  return pushImage("plain", "library/alpine", tag, [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
  });
}

/**
 * BURROW_REGISTRY_MIRRORS that makes the plain registry stand in for Docker Hub, mirror only (README:
 * Mirrors), so that `burrow pull alpine` works in the tests and never reaches the internet.
 */
export function hubMirrorEnv(): { BURROW_REGISTRY_MIRRORS: string } {
  return { BURROW_REGISTRY_MIRRORS: `docker.io=http://${testEnv().registries.plain.host},nofallback` };
}
