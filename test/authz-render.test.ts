// Issue 14: `switchyard authz render` writes a configuration nats-server accepts, with one account per
// identity, nothing that lets an identity choose where a reply goes, and the same bytes every time.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { binary, scratchDir } from "./fixtures/processes.js";
import { runCli } from "./fixtures/rendered-broker.js";

const POLICY_FILE = new URL("../examples/policy.yaml", import.meta.url).pathname;
const NATS_SERVER = binary("nats-server", "/usr/sbin/nats-server");

function natsServerTest(configFile: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(NATS_SERVER, ["-t", "-c", configFile], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? -1), output: stdout + stderr }),
    );
  });
}

describe("authz render", () => {
  it("writes a config nats-server -t accepts: an account per identity, JetStream in the controller's alone", async (t) => {
    const dir = scratchDir(t, "authz");
    // nats-server -t only reads the config: the store is named, never created
    const store = join(dir, "store");
    const args = ["authz", "render", "-f", POLICY_FILE, "--out", dir, "--store-dir", store];
    const first = await runCli({}, ...args);
    assert.equal(first.code, 0, first.stderr);
    const configFile = join(dir, "nats-server.conf");
    const text = readFileSync(configFile, "utf8");
    const checked = await natsServerTest(configFile);
    assert.equal(checked.code, 0, checked.output);

    const accounts = [...text.matchAll(/^ {2}"([^"]+)": \{$/gm)].map((m) => m[1]);
    assert.deepEqual(accounts, [
      "controller",
      "demo",
      "gateway",
      "inventory",
      "orders",
      "payments",
      "recommendations",
      "switchyard-cli",
    ]);
    assert.equal(text.match(/jetstream: enabled/g)?.length, 1);
    assert.match(text, /"controller": \{\n {4}jetstream: enabled/);
    assert.doesNotMatch(text, /allow_responses/);
    assert.match(text, new RegExp(`store_dir: ${JSON.stringify(store).replace(/[.$]/g, "\\$&")}`));
    // payments is called by orders alone, and only orders imports it
    assert.match(text, /\{ service: "mesh\.svc\.payments\.>", accounts: \["orders"\]/);
    assert.equal(text.match(/account: "payments", subject: "mesh\.svc\.payments\.>" \} \}/g)?.length, 1);
    // the server writes the caller's account into every imported request without it (docs/SECURITY.md §2)
    assert.doesNotMatch(text, /share: true/);

    const again = await runCli({}, ...args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(configFile, "utf8"), text, "same policy, keys and store: same bytes");
  });
});
