import { test } from "node:test";
import assert from "node:assert/strict";
import { checkStopSignal, exposedPorts } from "../../../src/dockerfile/values.js";

test("EXPOSE words become ExposedPorts keys: tcp by default, protocols lower-cased, ranges expanded", () => {
  assert.deepEqual(exposedPorts(["80", "53/UDP", "8000-8002/tcp", "80/tcp", "9/sctp"], 3), [
    "80/tcp",
    "53/udp",
    "8000/tcp",
    "8001/tcp",
    "8002/tcp",
    "9/sctp",
  ]);
});

test("a bad EXPOSE port names the line", () => {
  assert.throws(
    () => exposedPorts(["http"], 4),
    /^DockerfileError: Dockerfile line 4: EXPOSE: invalid port "http"$/,
  );
  assert.throws(() => exposedPorts(["8080:80"], 4), /publish host ports when running/);
  assert.throws(() => exposedPorts(["80/icmp"], 4), /invalid protocol "icmp"/);
  assert.throws(() => exposedPorts(["0"], 4), /invalid port range "0"/);
  assert.throws(() => exposedPorts(["70000"], 4), /invalid port range/);
  assert.throws(() => exposedPorts(["90-80"], 4), /invalid port range "90-80"/);
});

test("STOPSIGNAL takes a number, a name with or without SIG in any case, or a real-time signal", () => {
  for (const s of ["SIGTERM", "TERM", "sigkill", "9", "SIGRTMIN+3", "SIGUSR1"])
    assert.equal(checkStopSignal(s, 2), s);
  assert.throws(() => checkStopSignal("SIGFOO", 2), /line 2: STOPSIGNAL: invalid signal "SIGFOO"/);
  assert.throws(() => checkStopSignal("0", 2), /invalid signal "0"/);
  assert.throws(() => checkStopSignal("99", 2), /invalid signal/);
});
