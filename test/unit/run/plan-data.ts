// Plain-data inputs for the pure plan (src/run/plan-spec.ts): a run of /bin/sh in an image with an overlay, no options.
import { defaultValues } from "../../../src/option-table.js";
import { RUN_OPTIONS } from "../../../src/run/options.js";
import type { RunOptions } from "../../../src/run/options.js";
import type { HostUser } from "../../../src/run/passwd.js";
import type { PlanInputs } from "../../../src/run/plan-spec.js";

/** The host user of the plans below. */
export const hostUser: HostUser = {
  name: "me",
  uid: 1234,
  gid: 1234,
  home: "/home/me",
  shell: "/bin/bash",
  groupName: "me",
};

/** RunOptions with every option absent but those given. */
export function runOptions(given: Partial<RunOptions> = {}): RunOptions {
  const all: Record<string, unknown> = defaultValues(RUN_OPTIONS);
  const options: Record<string, unknown> = { args: [] };
  for (const [key, o] of Object.entries(RUN_OPTIONS)) if (o.part === "spec") options[key] = all[key];
  return { ...(options as RunOptions), ...given };
}

/** PlanInputs of an image run (root passwd: root only), with `over` replacing whole fields. */
export function planInputs(over: Partial<PlanInputs> = {}): PlanInputs {
  return {
    layout: { kind: "overlay", lower: "/store/image/rootfs" },
    scratch: "/tmp/scratch",
    config: { Cmd: ["/bin/sh"] },
    options: runOptions(),
    host: {
      env: {},
      cwd: "/",
      user: hostUser,
      hostname: "node1",
      resolvConf: "nameserver 192.0.2.53\n",
      hosts: "127.0.0.1 localhost\n",
      execLimits: { perString: 131072, total: 2 * 1024 * 1024 },
    },
    root: {
      passwd: "root:x:0:0:root:/root:/bin/sh\n",
      group: "root:x:0:\n",
      hasEtc: true,
      hasAptConfDir: false,
    },
    envFileVars: [],
    existingSources: new Set(),
    jobMounts: [],
    ...over,
  };
}
