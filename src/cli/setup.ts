// `burrow setup`: saves (or shows, or forgets) the engine a named container runs with.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Sets a container's engine, udocker-style (`--execmode`) or by name (`--engine`). */
export class SetupCommand extends BurrowCommand {
  static override paths = [["setup"]];
  static override usage = BurrowCommand.Usage({
    description: "Choose the engine a container runs with",
    details: `
      Saves the engine CONTAINER uses from now on, ahead of BURROW_ENGINE and the config file (\`run --engine\` still overrides it). With no option it prints the saved engine.

      \`--engine\` takes userns, proot, proot:noseccomp (PRoot without its seccomp acceleration), runc or runc:crun (crun; also \`crun\`). \`--execmode\` takes udocker's modes: P1 (proot), P2 (proot:noseccomp), R1 (runc); R2 and R3, udocker's runc with PRoot inside it to install software as emulated root, run runc, whose root is emulated already; F1-F4 (udocker's fakechroot modes) and S1 (Singularity/Apptainer), which burrow has no engine for, choose the fastest engine that works on this machine. Each mode that runs otherwise than in udocker says so in one line. \`--purge\` forgets the saved engine (back to automatic selection). With no option, \`setup\` prints the saved engine, or for automatic selection (udocker's default is P1) the engine that runs the container here.
    `,
    examples: [
      ["Run a container with PRoot, udocker-style", "$0 setup --execmode=P1 mycontainer"],
      ["Run it with runc", "$0 setup --engine runc mycontainer"],
      ["Show its engine", "$0 setup mycontainer"],
      ["Go back to automatic selection", "$0 setup --purge mycontainer"],
    ],
  });

  engine = Option.String("--engine", {
    description: "Engine to save: userns, proot, proot:noseccomp, runc, runc:crun",
  });
  execmode = Option.String("--execmode", {
    description: "udocker's mode: P1, P2 (proot), R1-R3 (runc), F1-F4, S1 (fastest here)",
  });
  purge = Option.Boolean("--purge", false, { description: "Forget the saved engine (automatic selection)" });
  container = Option.String({ name: "CONTAINER" });

  async run(): Promise<number> {
    const { InvalidArgumentError } = await import("../errors.js");
    const given = [this.engine !== undefined, this.execmode !== undefined, this.purge].filter(Boolean).length;
    if (given > 1) {
      throw new InvalidArgumentError("give one of --engine, --execmode or --purge");
    }
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const record = containers.find(this.container);
    if (!record) {
      throw new InvalidArgumentError(
        `no container "${this.container}": 'burrow ps' lists them, 'burrow run --name ${this.container} IMAGE' makes one`,
      );
    }
    const { describeSetting, engineSetting, fastestNotice, parseExecmode } =
      await import("../install/execmode.js");
    const label = record.name ?? record.id.slice(0, 12);
    if (given === 0) {
      const saved = describeSetting(record.engine, record.execmode);
      const line =
        record.engine === undefined || record.engine === ""
          ? `engine automatic (none saved): ${await this.whatRuns(store.paths.root)}; udocker's default, P1 (PRoot), is 'burrow setup --execmode=P1 ${label}'`
          : `engine ${saved}`;
      this.context.stdout.write(`${label}: ${line}\n`);
      return 0;
    }
    const { engineNames } = await import("../engine-registry.js");
    let setting: string | undefined;
    let mode: string | undefined;
    if (this.purge) {
      setting = undefined;
    } else if (this.engine !== undefined) {
      setting = engineSetting(this.engine, engineNames);
    } else {
      const meaning = parseExecmode(this.execmode!);
      mode = meaning.mode;
      if (meaning.kind === "engine") {
        setting = engineSetting(meaning.setting, engineNames);
        if (meaning.notice !== undefined) this.info(`burrow: ${meaning.notice}`);
      } else {
        setting = await this.fastestEngine(store.paths.root);
        const singularity = mode === "S1" ? await this.singularityOnPath() : undefined;
        this.info(`burrow: ${fastestNotice(mode, setting, singularity)}`);
      }
    }
    const { updateContainerEngine } = await import("../install/container-engine.js");
    await updateContainerEngine(containers, store.paths.locks, record.id, setting, mode);
    this.info(`${label}: engine ${describeSetting(setting, mode)}`);
    return 0;
  }

  /** What runs a container with no saved engine here: BURROW_ENGINE's, the config file's, or the probe's. */
  private async whatRuns(storeRoot: string): Promise<string> {
    const { requestedEngine, selectEngine } = await import("../engine-registry.js");
    const config = await this.config();
    const req = {
      env: this.context.env.BURROW_ENGINE,
      config: config.engine,
      storeRoot,
      processEnv: this.context.env,
    };
    const asked = requestedEngine(req);
    try {
      const engine = await selectEngine(req);
      if (asked?.source === "env") return `BURROW_ENGINE's ${asked.name} runs it`;
      if (asked?.source === "config") return `the config file's ${asked.name} runs it`;
      return `${engine.name} runs it here, the first engine that works`;
    } catch (err) {
      return `no engine can run it here (${(err as Error).message})`;
    }
  }

  /** The Singularity or Apptainer on PATH, if any (udocker's S1 runs it). */
  private async singularityOnPath(): Promise<string | undefined> {
    const { findOnPath } = await import("../find-on-path.js");
    for (const name of ["apptainer", "singularity"]) {
      const found = findOnPath(name);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** The first engine (in preference order, fastest first) whose probe succeeds here. */
  private async fastestEngine(storeRoot: string): Promise<string> {
    const { probeAll } = await import("../engine-registry.js");
    const reports = await probeAll({ storeRoot, env: this.context.env });
    const usable = reports.find((r) => r.probe.ok);
    if (!usable) {
      const { EngineUnavailableError } = await import("../errors.js");
      throw new EngineUnavailableError(
        `no engine can run here (${reports.map((r) => `${r.name}: ${r.probe.ok ? "" : r.probe.reason}`).join("; ")})`,
      );
    }
    return usable.name;
  }
}
