// WWW-Authenticate parsing, token answers, and the Authenticator's caching and refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseWwwAuthenticate } from "../../../src/registry/www-authenticate.js";
import {
  Authenticator,
  basicAuthorization,
  chooseChallenge,
  parseTokenResponse,
  pullScope,
} from "../../../src/registry/auth.js";
import { AuthenticationError, RegistryError } from "../../../src/errors.js";

test("parses a Bearer challenge with quoted values that contain commas", () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"',
    ),
    [
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:a/b:pull,push",
        },
      },
    ],
  );
});

test("parses Basic, unquoted values, spaces and escapes", () => {
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry \\"Realm\\""'), [
    { scheme: "basic", params: { realm: 'Registry "Realm"' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate("bearer  Realm = https://x/token , service=x"), [
    { scheme: "bearer", params: { realm: "https://x/token", service: "x" } },
  ]);
});

test("parses several challenges in one header and picks Bearer over Basic", () => {
  const all = parseWwwAuthenticate('Basic realm="r", Bearer realm="https://t/token",service="s"');
  assert.deepEqual(
    all.map((c) => c.scheme),
    ["basic", "bearer"],
  );
  assert.equal(chooseChallenge(all)?.scheme, "bearer");
  assert.equal(chooseChallenge(parseWwwAuthenticate("Negotiate")), undefined);
  assert.deepEqual(parseWwwAuthenticate(""), []);
  // Garbage does not hang the parser.
  assert.ok(Array.isArray(parseWwwAuthenticate('=== ,,, "x" Bearer realm="')));
});

test("token answers: token or access_token, with a lifetime", () => {
  assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"a","expires_in":300}')), {
    token: "a",
    expiresInS: 300,
  });
  assert.deepEqual(parseTokenResponse(Buffer.from('{"access_token":"b"}')), { token: "b", expiresInS: 60 });
  assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"","access_token":"c"}')), {
    token: "c",
    expiresInS: 60,
  });
  assert.equal(parseTokenResponse(Buffer.from("{}")), undefined);
  assert.equal(parseTokenResponse(Buffer.from("not json")), undefined);
});

test("pull scope and Basic header", () => {
  assert.equal(pullScope("library/alpine"), "repository:library/alpine:pull");
  assert.equal(
    basicAuthorization({ username: "u", password: "p:w" }),
    `Basic ${Buffer.from("u:p:w").toString("base64")}`,
  );
});

const bearer = { scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg" } };

test("tokens are fetched once per scope, shared by concurrent callers, renewed after expiry", async () => {
  let now = 1_000_000;
  const urls: URL[] = [];
  const auth = new Authenticator({
    allowPlainHttp: () => false,
    now: () => now,
    fetchToken: async (url) => {
      urls.push(url);
      return {
        status: 200,
        body: Buffer.from(JSON.stringify({ token: `t${urls.length}`, expires_in: 120 })),
      };
    },
  });
  const [a, b] = await Promise.all([
    auth.authorize("reg", bearer, pullScope("x"), undefined),
    auth.authorize("reg", bearer, pullScope("x"), undefined),
  ]);
  assert.equal(a, "Bearer t1");
  assert.equal(b, "Bearer t1");
  assert.equal(await auth.authorize("reg", bearer, pullScope("y"), undefined), "Bearer t2");
  assert.equal(urls[0]!.searchParams.get("scope"), "repository:x:pull");
  assert.equal(urls[0]!.searchParams.get("service"), "reg");
  now += 200_000;
  assert.equal(await auth.authorize("reg", bearer, pullScope("x"), undefined), "Bearer t3");
});

test("refused token requests and plain-HTTP realms give clear errors without the password", async () => {
  const refuse = new Authenticator({
    allowPlainHttp: () => false,
    fetchToken: async () => ({ status: 401, body: Buffer.from("{}") }),
  });
  await assert.rejects(
    refuse.authorize("reg", bearer, undefined, { username: "me", password: "hunter2" }),
    (err: Error) => {
      assert.ok(err instanceof AuthenticationError);
      assert.match(err.message, /refused the credentials of "me"/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
  const http = { scheme: "bearer", params: { realm: "http://auth.example/token" } };
  await assert.rejects(
    refuse.authorize("reg", http, undefined, { username: "me", password: "hunter2" }),
    /plain-HTTP/,
  );
  const noRealm = { scheme: "bearer", params: {} };
  await assert.rejects(refuse.authorize("reg", noRealm, undefined, undefined), RegistryError);
  await assert.rejects(
    refuse.authorize("reg", { scheme: "basic", params: {} }, undefined, undefined),
    /asks for a username and password; run "burrow login reg"/,
  );
});
