// `burrow ps`: the named containers of the store.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import { printableJson } from "./printable.js";

/** Lists containers: id, protection, names, image (udocker's columns), with the engine and size on request. */
export class PsCommand extends BurrowCommand {
  static override paths = [["ps"], ["container", "ls"]];
  static override usage = BurrowCommand.Usage({
    description: "List the containers",
    details: `
      Columns: CONTAINER ID, P (\`P\` protected, \`.\` not), NAMES, IMAGE, LAYER (\`overlay\`: the container keeps only its changes over the shared image; \`copy\`: its own copy of the image), CREATED, STATUS (\`running (pid N)\` for a container started with \`run -d\` that runs, N the pid of its engine's process; \`exited (N)\` once it ended with status N; \`created\` otherwise). \`-m\` adds the engine saved with \`burrow setup\` (udocker's execution mode), \`-s\` the size of the container's own layer.
    `,
    examples: [
      ["List containers", "$0 ps"],
      ["With engines and sizes", "$0 ps -m -s"],
      ["As JSON", "$0 ps --format json"],
    ],
  });

  engines = Option.Boolean("-m", false, { description: "Show the engine each container runs with" });
  sizes = Option.Boolean("-s,--size", false, { description: "Show the size of each container's own layer" });
  all = Option.Boolean("-a,--all", false, { description: "Accepted for docker habits (all are listed)" });
  format = formatOption();

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const store = await this.store();
    const { containersOf } = await import("./containers.js");
    const containers = await containersOf(store);
    const { familiarName, humanSize, table, timeAgo } = await import("./format.js");
    const refs = store.listRefs();
    /** The name the container was made from, else a current name of its image, else its short id. */
    const imageLabel = (image: string, name: string | undefined): string => {
      if (name !== undefined) return name;
      const first = refs.find((r) => r.image === image)?.name;
      return first !== undefined ? familiarName(first) : image.slice(0, 12);
    };
    const list = containers.list();
    const { runStatus } = await import("../run/state.js");
    const statusOf = (id: string): { status: string; pid: number | null; exitCode: number | null } => {
      const st = runStatus(store.paths.root, id);
      if (st.kind === "running") return { status: `running (pid ${st.pid})`, pid: st.pid, exitCode: null };
      if (st.kind === "exited") {
        const code = st.exitCode === undefined ? "?" : String(st.exitCode);
        return { status: `exited (${code})`, pid: null, exitCode: st.exitCode ?? null };
      }
      return { status: "created", pid: null, exitCode: null };
    };
    if (format === "json") {
      const out = list.map((c) => ({
        id: c.id,
        names: c.names ?? [],
        image: `sha256:${c.image}`,
        imageName: c.imageName,
        imagePresent: store.readImage(c.image) !== undefined,
        created: c.created,
        layer: c.layer,
        protected: containers.isProtected(c.id),
        engine: c.engine ?? null,
        ...statusOf(c.id),
        ...(this.sizes ? { size: containers.layerBytes(c) } : {}),
      }));
      this.context.stdout.write(printableJson(out) + "\n");
      return 0;
    }
    const head = ["CONTAINER ID", "P", "NAMES", "IMAGE", "LAYER", "CREATED", "STATUS"];
    if (this.engines) head.push("ENGINE");
    if (this.sizes) head.push("SIZE");
    const rows = [head];
    for (const c of list) {
      const row = [
        c.id.slice(0, 12),
        containers.isProtected(c.id) ? "P" : ".",
        (c.names ?? []).join(",") || "-",
        imageLabel(c.image, c.imageName),
        c.layer,
        timeAgo(c.created),
        statusOf(c.id).status,
      ];
      if (this.engines) row.push(c.engine ?? "auto");
      if (this.sizes) row.push(humanSize(containers.layerBytes(c)));
      rows.push(row);
    }
    this.context.stdout.write(table(rows));
    return 0;
  }
}
