// The credential store: burrow's 0600 file, docker's config.json as a fallback, and no secrets in errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  credentialsFile,
  getCredentials,
  registryOfAuthKey,
  removeAllCredentials,
  removeCredentials,
  saveCredentials,
} from "../../../src/registry/credentials.js";

function tempDirs(): { storeDir: string; dockerConfigDir: string; cleanup(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-creds-test-"));
  return {
    storeDir: path.join(root, "store"),
    dockerConfigDir: path.join(root, "docker"),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

test("saved credentials land in a 0600 file in a 0700 store and are read back", () => {
  const d = tempDirs();
  const oldUmask = process.umask(0o000);
  try {
    saveCredentials(d.storeDir, "reg.example.org:5000", { username: "me", password: "pa:ss" });
    const file = credentialsFile(d.storeDir);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(d.storeDir).mode & 0o777, 0o700);
    assert.deepEqual(getCredentials(d, "reg.example.org:5000"), {
      username: "me",
      password: "pa:ss",
      source: file,
    });
    assert.deepEqual(fs.readdirSync(d.storeDir), ["credentials.json"]);
  } finally {
    process.umask(oldUmask);
    d.cleanup();
  }
});

test("saving replaces, remove and removeAll forget", () => {
  const d = tempDirs();
  try {
    saveCredentials(d.storeDir, "index.docker.io", { username: "a", password: "1" });
    saveCredentials(d.storeDir, "docker.io", { username: "b", password: "2" });
    saveCredentials(d.storeDir, "other.io", { username: "c", password: "3" });
    assert.equal(getCredentials(d, "docker.io")?.username, "b");
    assert.equal(removeCredentials(d.storeDir, "docker.io"), true);
    assert.equal(removeCredentials(d.storeDir, "docker.io"), false);
    assert.equal(getCredentials(d, "docker.io"), undefined);
    assert.deepEqual(removeAllCredentials(d.storeDir), ["other.io"]);
    assert.equal(getCredentials(d, "other.io"), undefined);
    assert.deepEqual(removeAllCredentials(d.storeDir), []);
  } finally {
    d.cleanup();
  }
});

test("docker's config.json is read by host, by https://host and by the Docker Hub v1 URL", () => {
  const d = tempDirs();
  try {
    fs.mkdirSync(d.dockerConfigDir);
    fs.writeFileSync(
      path.join(d.dockerConfigDir, "config.json"),
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hubuser:hubpw") },
          "https://reg.example.org": { auth: b64("u1:p1") },
          "plain.example.org:5000": { username: "u2", password: "p2" },
          "helper.example.org": {},
        },
        credsStore: "desktop",
      }),
    );
    assert.equal(getCredentials(d, "docker.io")?.password, "hubpw");
    assert.equal(getCredentials(d, "reg.example.org")?.username, "u1");
    assert.equal(getCredentials(d, "plain.example.org:5000")?.password, "p2");
    assert.equal(getCredentials(d, "helper.example.org"), undefined);
    assert.equal(getCredentials(d, "unknown.example.org"), undefined);
    // burrow's own file wins over docker's.
    saveCredentials(d.storeDir, "docker.io", { username: "mine", password: "x" });
    assert.equal(getCredentials(d, "docker.io")?.username, "mine");
  } finally {
    d.cleanup();
  }
});

test("auth keys name their registries", () => {
  assert.equal(registryOfAuthKey("https://index.docker.io/v1/"), "docker.io");
  assert.equal(registryOfAuthKey("registry-1.docker.io"), "docker.io");
  assert.equal(registryOfAuthKey("http://Reg.Example.org:5000/v2/"), "reg.example.org:5000");
});

test("broken files give errors that do not contain the secrets", () => {
  const d = tempDirs();
  try {
    fs.mkdirSync(d.dockerConfigDir);
    const file = path.join(d.dockerConfigDir, "config.json");
    fs.writeFileSync(file, `{"auths": {"x.io": {"auth": "${b64("user:topsecret")}"}}, oops`);
    assert.throws(
      () => getCredentials(d, "x.io"),
      (err: Error) =>
        /not valid JSON/.test(err.message) &&
        !err.message.includes("topsecret") &&
        !err.message.includes(b64("user:topsecret")),
    );
    fs.writeFileSync(file, JSON.stringify({ auths: { "x.io": { auth: b64("no-colon-secret") } } }));
    assert.throws(
      () => getCredentials(d, "x.io"),
      (err: Error) =>
        /not base64 of user:password/.test(err.message) && !err.message.includes("no-colon-secret"),
    );
  } finally {
    d.cleanup();
  }
});
