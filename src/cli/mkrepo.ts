// `burrow mkrepo`: creates an empty store in a folder, for use with the global `--repo`.
import { Option } from "clipanion";
import { BurrowCommand } from "./base.js";

/** The folders whose presence marks a folder as a burrow store. */
const STORE_MARKS = ["blobs", "images", "refs"];

/** Creates an empty store (owner-only) at DIR, or accepts one that is already there. */
export class MkrepoCommand extends BurrowCommand {
  static override paths = [["mkrepo"]];
  static override usage = BurrowCommand.Usage({
    description: "Create an empty store in a folder",
    details: `
      Makes DIR (mode 0700) with the layout of a store; \`--repo DIR\` then makes any command use it instead of the default store. A folder that already holds a store is left as it is; a folder holding anything else is refused. Without DIR, the folder given with --repo is used.
    `,
    examples: [
      ["Create a store on scratch space", "$0 mkrepo /scratch/me/burrow"],
      ["Use it", "$0 --repo /scratch/me/burrow pull alpine"],
    ],
  });

  dir = Option.String({ name: "DIR", required: false });

  async run(): Promise<number> {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const { InvalidArgumentError, storeFailure } = await import("../errors.js");
    const given = this.dir ?? this.repo;
    if (given === undefined)
      throw new InvalidArgumentError("give the folder to create the store in: burrow mkrepo DIR");
    const dir = path.resolve(given);
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st !== undefined && !st.isDirectory()) {
      throw new InvalidArgumentError(`${given} exists and is not a folder: give a new or empty folder`);
    }
    let names: string[] = [];
    try {
      if (st !== undefined) names = fs.readdirSync(dir);
    } catch (err) {
      throw storeFailure(`cannot read ${given}`, err);
    }
    const isStore = STORE_MARKS.every((m) =>
      fs.statSync(path.join(dir, m), { throwIfNoEntry: false })?.isDirectory(),
    );
    const { refuseUdockerRepository } = await import("../store/udocker-repo.js");
    refuseUdockerRepository(dir, "given to mkrepo");
    if (names.length > 0 && !isStore) {
      throw new InvalidArgumentError(
        `${given} is not empty and holds no burrow store: give a new or empty folder, so nothing of yours is mixed into the store`,
      );
    }
    const { Store } = await import("../store/store.js");
    new Store(dir).init();
    if (names.length === 0) {
      try {
        fs.chmodSync(dir, 0o700);
      } catch (err) {
        throw storeFailure(`cannot make ${given} private`, err);
      }
      this.info(`created an empty store in ${dir}: use it with --repo ${given}`);
    } else {
      this.info(`${dir} already holds a store: use it with --repo ${given}`);
    }
    return 0;
  }
}
