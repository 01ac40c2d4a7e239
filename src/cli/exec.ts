// `burrow exec`: runs a command inside a running container.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { withOptions } from "./declared-options.js";
import { pickOptions } from "../option-table.js";
import { RUN_OPTIONS } from "../run/options.js";

/** The options exec shares with run, as exec reads them. */
const EXEC_OPTIONS = pickOptions(RUN_OPTIONS, "env", "workdir", "user", "tty", "interactive");

/** Runs COMMAND in a container started with `run -d`: its namespaces and filesystem view, its environment. */
export class ExecCommand extends withOptions(BurrowCommand, EXEC_OPTIONS, {
  workdir: "Working directory inside (default: the container's)",
  user: "Run as name|uid[:group|gid] (default: the container's user)",
  tty: "Give the command a terminal (when stdin is one)",
}) {
  static override paths = [["exec"], ["container", "exec"]];
  static override usage = BurrowCommand.Usage({
    description: "Run a command in a running container",
    details: `
      COMMAND runs inside a container started with \`burrow run -d\`: it sees the container's files (its writable layer included), its processes (\`ps\`) and its host name, with the container's environment (the image's and the run's \`-e\`) plus \`-e\` given here. With the userns engine the helper joins the container's namespaces; with runc, \`runc exec\`; with proot, a new PRoot on the same rootfs and binds, which shares no processes with the container.

      Exit status: COMMAND's own; 125 when burrow fails (the container is not running, say), 126 when COMMAND cannot be executed, 127 when it is not found.
    `,
    examples: [
      ["Open a shell in a running container", "$0 exec -it web sh"],
      ["Run a command with a variable set", "$0 exec -e DEBUG=1 -w /srv web ls"],
    ],
  });

  container = Option.String({ name: "CONTAINER" });
  args = Option.Proxy({ required: 1 });

  async run(): Promise<number> {
    const { InvalidArgumentError, EngineUnavailableError } = await import("../errors.js");
    const argv = this.args[0] === "--" ? this.args.slice(1) : [...this.args];
    if (argv.length === 0)
      throw new InvalidArgumentError("give a command: burrow exec CONTAINER COMMAND [ARG...]");
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const rec = (await containersOf(store)).resolve(this.container);
    const label = rec.name ?? rec.id.slice(0, 12);
    const { isAlive, runStatus } = await import("../run/state.js");
    const st = runStatus(store.paths.root, rec.id);
    // A run recorded without a spec ended before its engine saw it run; one whose container init is gone
    // (its supervisor still cleaning up) is over too, and its pid may already be another process's.
    const spec = st.kind === "running" ? st.state.spec : undefined;
    const initGone = st.kind === "running" && st.state.init !== undefined && !isAlive(st.state.init);
    if (st.kind !== "running" || spec === undefined || initGone) {
      throw new InvalidArgumentError(
        `container ${label} is not running: start it with 'burrow run -d ${label} COMMAND', or run a command in it with 'burrow run ${label} COMMAND'`,
      );
    }
    const { state } = st;
    const path = await import("node:path");
    const { loadEngine, splitEngineSetting } = await import("../engine-registry.js");
    const flavor = state.handle?.flavor;
    const setting =
      flavor !== undefined && flavor !== state.engine ? `${state.engine}:${flavor}` : state.engine;
    const { name, variant } = splitEngineSetting(setting);
    const engine = await loadEngine(name, { storeRoot: store.paths.root, env: this.context.env, variant });
    if (engine.exec === undefined) {
      throw new EngineUnavailableError(`engine ${engine.name} cannot run a command in a running container`);
    }
    // The environment: the container's, then exec's own -e.
    const { envList, mergeEnv, parseEnvArg } = await import("../run/env.js");
    const extra: [string, string][] = [];
    for (const e of this.env) {
      const kv = parseEnvArg(e, this.context.env);
      if (kv !== undefined) extra.push(kv);
    }
    const env = envList(mergeEnv(spec.env, extra));
    let cwd = spec.cwd;
    if (this.workdir !== undefined) cwd = path.posix.resolve(spec.cwd, this.workdir);
    let uid = spec.uid;
    let gid = spec.gid;
    if (this.user !== undefined) {
      // Names are looked up in the container's own /etc/passwd, as it sees it.
      const rootDir =
        state.init !== undefined
          ? `/proc/${state.init.pid}/root`
          : spec.root.kind === "direct"
            ? spec.root.path
            : spec.root.mountpoint;
      // Resolved inside that root: through /proc/PID/root an absolute link would lead to the host's file.
      const { InRoot } = await import("../fs/in-root.js");
      const read = (f: string): string => {
        try {
          return InRoot.with(rootDir, (r) => r.readFile(f, "follow"))?.toString("utf8") ?? "";
        } catch {
          return "";
        }
      };
      const { parseGroup, parsePasswd, resolveUser } = await import("../run/user.js");
      ({ uid, gid } = resolveUser(this.user, parsePasswd(read("etc/passwd")), parseGroup(read("etc/group"))));
    }
    const { makeScratch, removeScratch, scratchBase } = await import("../run/scratch.js");
    const scratch = makeScratch(scratchBase(this.context.env, store.paths.tmp));
    try {
      return await engine.exec(
        { spec, started: { pid: state.pid.pid, initPid: state.init?.pid, handle: state.handle } },
        {
          argv,
          env,
          cwd,
          uid,
          gid,
          tty: this.tty && (this.context.stdin as NodeJS.ReadStream).isTTY === true,
        },
        { scratch, env: this.context.env },
      );
    } finally {
      removeScratch(scratch);
    }
  }
}
