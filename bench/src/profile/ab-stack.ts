// `NODE_OPTIONS=--conditions=@switchyard/source node --import tsx bench/src/profile/ab-stack.ts CHECKOUT...`:
// one nats-server, then `stack-round.ts` from each checkout in turn (its own caller and its own
// responder process), `TURNS` times over (default 3), so every commit's whole request path meets
// the same machine load. Prints one JSON line per turn and checkout, then each key's median per
// checkout. A checkout of an older commit needs `stack-round.ts` copied in, and node_modules
// (symlinks to this one's, except @switchyard/*, whose relative links must point into it).
import { execFileSync } from "node:child_process";
import { startPrivate } from "../nats-server.js";

const checkouts = process.argv.slice(2);
const turns = Number(process.env["TURNS"] ?? 3);
const nats = await startPrivate();
const results = new Map<string, Record<string, number>[]>();
try {
  for (let turn = 0; turn < turns; turn++) {
    for (const checkout of checkouts) {
      const out = execFileSync(
        process.execPath,
        ["--import", "tsx", "bench/src/profile/stack-round.ts", nats.url],
        { cwd: checkout, stdio: ["ignore", "pipe", "ignore"] },
      );
      const figures = JSON.parse(out.toString()) as Record<string, number>;
      results.set(checkout, [...(results.get(checkout) ?? []), figures]);
      process.stdout.write(`${checkout} ${out.toString()}`);
    }
  }
} finally {
  await nats.stop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
for (const [checkout, runs] of results) {
  const keys = Object.keys(runs[0] ?? {});
  const summary = Object.fromEntries(
    keys.map((k) => [k, `${median(runs.map((r) => r[k] as number))} (${runs.map((r) => r[k]).join(", ")})`]),
  );
  process.stdout.write(`median ${checkout}\n${JSON.stringify(summary, null, 1)}\n`);
}
