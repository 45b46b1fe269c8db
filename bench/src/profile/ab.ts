// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/ab.ts CHECKOUT...`: one nats-server and one responder (this
// checkout's), then `caller-cpu.ts` from each checkout in turn, three times over, so every commit's
// caller meets the same machine load. A checkout of an older commit needs this file's sibling
// `caller-cpu.ts` copied in, and node_modules (symlinks to this one's, except @switchyard/*).
import { execFileSync } from "node:child_process";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";

const checkouts = process.argv.slice(2);
const nats = await startPrivate();
const responder = await startResponder(nats.url);
try {
  for (let turn = 0; turn < 3; turn++) {
    for (const checkout of checkouts) {
      const out = execFileSync(
        process.execPath,
        ["--import", "tsx", "bench/src/profile/caller-cpu.ts", nats.url],
        { cwd: checkout, stdio: ["ignore", "pipe", "ignore"] },
      );
      process.stdout.write(`${checkout} ${out.toString()}`);
    }
  }
} finally {
  await responder.stop();
  await nats.stop();
}
