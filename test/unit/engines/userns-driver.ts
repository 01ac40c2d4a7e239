// A stand-in for the burrow process in the userns engine tests, run as the unprivileged test user:
//   node userns-driver.js probe            prints {"probe": ProbeResult, "ms": [..]} (5 fresh probes)
//   node userns-driver.js run SPEC_JSON    runs the RunSpec, exits with the program's status
//   node userns-driver.js run @FILE        the same, the spec read from FILE
// The helper is the package's vendor/ copy, or BURROW_NS.
import fs from "node:fs";
import { UsernsEngine } from "../../../engines/userns/index.js";
import type { RunSpec } from "../../../src/engine-interface.js";

const [mode, specJson] = process.argv.slice(2);

if (mode === "probe") {
  const ms: number[] = [];
  let probe;
  for (let i = 0; i < 5; i++) {
    const start = process.hrtime.bigint();
    probe = await new UsernsEngine({ storeRoot: undefined, env: process.env }).probe();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  process.stdout.write(JSON.stringify({ probe, ms }) + "\n");
} else if (mode === "run" && specJson !== undefined) {
  const text = specJson.startsWith("@") ? fs.readFileSync(specJson.slice(1), "utf8") : specJson;
  const spec = JSON.parse(text) as RunSpec;
  const engine = new UsernsEngine({ storeRoot: undefined, env: process.env });
  const probe = await engine.probe();
  if (!probe.ok) {
    process.stderr.write(`driver: ${probe.reason}\n`);
    process.exitCode = 125;
  } else {
    process.exitCode = await engine.run(spec, { scratch: "/nonexistent", env: process.env });
  }
} else {
  process.stderr.write("usage: userns-driver.js probe | run SPEC_JSON|@FILE\n");
  process.exitCode = 2;
}
