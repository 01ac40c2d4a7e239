// `burrow build`: an image from a Dockerfile and a context folder, into the store (src/builder/build.ts).
import path from "node:path";
import fs from "node:fs";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { InvalidArgumentError } from "../errors.js";
import { printable } from "./printable.js";
import { debugWriter } from "../debug-line.js";

/** Builds an image from a Dockerfile; prints its id on stdout, the steps and their output on stderr. */
export class BuildCommand extends BurrowCommand {
  static override paths = [["build"], ["image", "build"]];
  static override usage = BurrowCommand.Usage({
    description: "Build an image from a Dockerfile",
    details:
      "Runs the Dockerfile's steps in CONTEXT (RUN through burrow's engines as emulated root, on the host's network); each step that changes files becomes one layer. A step is reused from the build cache when its parent, its instruction and (COPY, ADD) its sources are unchanged. The image goes into the store like a pulled one and is named by each -t; its id is printed on stdout, the steps and their output on stderr. A failing RUN exits 1, as docker does; any other failure exits 125.",
    examples: [
      ["Build the Dockerfile in the current folder", "$0 build -t tool:1 ."],
      [
        "Another Dockerfile, a build arg and a stage",
        "$0 build -f docker/Dockerfile --build-arg V=3 --target app -t tool:dev .",
      ],
      ["Rebuild every step", "$0 build --no-cache -t tool:1 ."],
    ],
  });

  tags = Option.Array("-t,--tag", [], { description: "Name the image NAME[:TAG] (repeatable)" });
  file = Option.String("-f,--file", {
    description: "The Dockerfile (default: CONTEXT/Dockerfile; - reads stdin)",
  });
  buildArgs = Option.Array("--build-arg", [], {
    description: "Set build arg NAME=VALUE (NAME alone: from the environment)",
  });
  target = Option.String("--target", { description: "Build up to this stage" });
  noCache = Option.Boolean("--no-cache", false, { description: "Do every step again, reusing nothing" });
  engine = Option.String("--engine", { description: "Engine for RUN steps: userns, runc, proot" });
  contextDir = Option.String({ name: "CONTEXT" });

  override failureStatus(): number {
    return 125;
  }

  async run(): Promise<number> {
    const { parseReference } = await import("../registry/reference.js");
    const names = this.tags.map((t) => {
      const ref = parseReference(t);
      if (ref.digest !== undefined)
        throw new InvalidArgumentError(`-t ${t}: a name cannot carry a digest: give NAME[:TAG]`);
      return ref.toString();
    });
    const context = path.resolve(this.contextDir);
    if (!fs.statSync(context, { throwIfNoEntry: false })?.isDirectory())
      throw new InvalidArgumentError(
        `the build context ${this.contextDir} is not a folder: give the folder the Dockerfile's COPY sources are in`,
      );
    // `-f -`: the Dockerfile on stdin, as docker takes it.
    const dockerfile =
      this.file === "-"
        ? "-"
        : this.file !== undefined
          ? path.resolve(this.file)
          : path.join(context, "Dockerfile");
    const buildArgs = new Map<string, string>();
    for (const arg of this.buildArgs) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg : arg.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new InvalidArgumentError(
          `--build-arg ${arg}: give NAME=VALUE (or NAME to take it from the environment)`,
        );
      const value = eq < 0 ? this.context.env[name] : arg.slice(eq + 1);
      if (value !== undefined) buildArgs.set(name, value);
    }

    const { inBuildNamespace, namespacePlan, rerunInNamespace, namespaceWorks } =
      await import("../builder/namespace.js");
    const env = this.context.env;
    const realOwners = inBuildNamespace(env);
    // runc makes its own user namespace of one id, which it cannot make inside the build's namespace.
    const engine = this.engine ?? env.BURROW_ENGINE ?? (await this.config()).engine;
    if (!realOwners && engine?.startsWith("runc") === true)
      this.warn(
        "RUN steps on engine runc run in its namespace of one id: the layers record root as the owner of what they make (COPY --chown owners are kept)",
      );
    else if (!realOwners) {
      const plan = namespacePlan();
      const why = "unshare" in plan ? namespaceWorks(plan.unshare, env) : plan.reason;
      if (why === undefined && "unshare" in plan) return rerunInNamespace(plan.unshare, env);
      this.warn(
        `no user namespace of subordinate ids for this build (${why}): the layers record root as the owner of what RUN steps make (COPY --chown owners are kept); see README, Building images`,
      );
    }

    const store = await this.store();
    // In the squashfs format its tools are checked first: a build does not run all its steps to fail at the end.
    const squashfs = await (
      await import("../store/squashfs.js")
    ).squashfsOutput((await this.config()).imageFormat, env, store.paths.root);
    const { findLocalImage } = await import("./run-images.js");
    const { pullReference } = await import("./pull.js");
    const { runStep } = await import("../builder/run-step.js");
    const { buildImage } = await import("../builder/build.js");
    const stderr = this.context.stderr;
    const quiet = this.quiet;
    const stopCleanup = await (await import("./interrupt.js")).removeStagingOnInterrupt();
    try {
      const { image } = await buildImage(
        {
          context,
          dockerfile,
          dockerfileLabel: this.file === "-" ? "Dockerfile (stdin)" : (this.file ?? "Dockerfile"),
          buildArgs,
          target: this.target,
          noCache: this.noCache,
          engine: this.engine,
          realOwners,
        },
        {
          store,
          image: async (reference, platform) =>
            (platform === undefined ? await findLocalImage(store, reference) : undefined) ??
            (await pullReference(this, reference, platform)).image,
          local: (reference) => findLocalImage(store, reference),
          runStep: (req) =>
            runStep(req, {
              storeRoot: store.paths.root,
              debug: this.debug,
              env: this.context.env,
              stdout: quiet ? undefined : stderr,
              stderr: quiet ? undefined : stderr,
            }),
          progress: (line) => {
            if (!quiet) stderr.write(printable(line) + "\n");
          },
          warn: (m) => this.warn(m),
          debug: debugWriter(this),
          now: () => new Date(),
          squashfs,
        },
      );
      for (const name of names) {
        store.setRef(name, image.id, image.manifestDigest);
        if (!quiet) stderr.write(`Successfully tagged ${printable(name)}\n`);
      }
      this.context.stdout.write(`${image.id}\n`);
      return 0;
    } finally {
      stopCleanup();
    }
  }
}
