// `burrow setup`: saves (or shows, or forgets) the engine a named container runs with.
import path from "node:path";
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** Sets a container's engine, udocker-style (`--execmode`) or by name (`--engine`). */
export class SetupCommand extends BurrowCommand {
  static override paths = [["setup"]];
  static override usage = BurrowCommand.Usage({
    description: "Choose the engine a container runs with",
    details: `
      Saves the engine CONTAINER uses from now on, ahead of BURROW_ENGINE and the config file (\`run --engine\` still overrides it). With no option it prints the saved engine.

      \`--engine\` takes userns, proot, proot:noseccomp (PRoot without its seccomp acceleration), runc or runc:crun (crun; also \`crun\`). \`--execmode\` takes udocker's modes: P1 (proot), P2 (proot:noseccomp), R1 (runc), R2 (runc:crun); F1-F4, udocker's fakechroot modes, which burrow does not have, choose the fastest engine that works on this machine and say so. \`--purge\` forgets the saved engine (back to automatic selection).
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
    description: "udocker's mode: P1, P2, R1, R2 (F1-F4: fastest here)",
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
    const { Containers } = await import("../store/containers.js");
    const containers = new Containers(path.join(store.paths.root, "containers"));
    const record = containers.find(this.container);
    if (!record) {
      throw new InvalidArgumentError(
        `no container "${this.container}": 'burrow ps' lists them, 'burrow run --name ${this.container} IMAGE' makes one`,
      );
    }
    const { describeSetting, engineSetting, parseExecmode } = await import("../install/execmode.js");
    const label = record.name ?? record.id.slice(0, 12);
    if (given === 0) {
      this.context.stdout.write(`${label}: engine ${describeSetting(record.engine)}\n`);
      return 0;
    }
    const { engineNames } = await import("../engines.js");
    let setting: string | undefined;
    if (this.purge) {
      setting = undefined;
    } else if (this.engine !== undefined) {
      setting = engineSetting(this.engine, engineNames);
    } else {
      const meaning = parseExecmode(this.execmode!);
      if (meaning.kind === "engine") {
        setting = engineSetting(meaning.setting, engineNames);
      } else {
        setting = await this.fastestEngine(store.paths.root);
        this.info(
          `burrow: execmode ${meaning.mode} is udocker's fakechroot mode, which burrow does not have; ` +
            `using ${setting}, the fastest engine that works here`,
        );
      }
    }
    const { updateContainerEngine } = await import("../install/container-engine.js");
    await updateContainerEngine(containers, store.paths.locks, record.id, setting);
    this.info(`${label}: engine ${describeSetting(setting)}`);
    return 0;
  }

  /** The first engine (in preference order, fastest first) whose probe succeeds here. */
  private async fastestEngine(storeRoot: string): Promise<string> {
    const { probeAll } = await import("../engines.js");
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
