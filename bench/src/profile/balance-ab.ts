// `node --cpu-prof --cpu-prof-dir=DIR --import tsx bench/src/profile/balance-ab.ts [pairs] [in-flight] > WINDOWS.json`,
// with NODE_OPTIONS=--conditions=@switchyard/source (balance-ab.sh sets both): the balance suite's
// throughput figure as one CPU profile. Three instances and a caller per `balance` in this one
// process, as the suite has them; pairs of 750 ms rounds, the order alternating. Prints each arm's
// rounds (their window on the profile's clock, calls, CPU), so `balance-ab-summary.ts` can split
// the one profile into the two arms, measured under the same conditions.
import { connectMesh, type Mesh } from "@switchyard/runtime";
import { runConcurrent } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { shedContract } from "../timing-contracts.js";

export const MODES = ["p2c-ewma", "queue-group"] as const;
type Mode = (typeof MODES)[number];
/** One measured round of one arm: its window in µs of the monotonic clock V8 stamps samples with. */
export interface ArmRound {
  readonly fromUs: number;
  readonly toUs: number;
  readonly calls: number;
  readonly cpuUs: number;
  /** Of which in the kernel (system time: socket reads and writes, mostly). */
  readonly systemUs: number;
}

const ROUND_MS = 750;
const [pairsText = "10", inFlightText = "64"] = process.argv.slice(2);
const inFlight = Number(inFlightText);
const nats = await startPrivate();
const meshes: Mesh[] = [];
try {
  for (const instance of ["a", "b", "c"]) {
    const served = await connectMesh({
      name: "bench-shed",
      logLevel: "silent",
      servers: nats.url,
      policy: { follow: false },
    });
    meshes.push(served);
    await served.serve(shedContract, { run: async () => ({ instance }) });
  }
  const calls = {} as Record<Mode, () => Promise<unknown>>;
  for (const mode of MODES) {
    const caller = await connectMesh({
      name: `bench-balance-${mode}`,
      logLevel: "silent",
      servers: nats.url,
      policy: { follow: false },
      calls: { balance: mode },
    });
    meshes.push(caller);
    calls[mode] = () => caller.client(shedContract).run({});
  }
  for (const mode of MODES) await runConcurrent(calls[mode], inFlight, 3_000);
  const rounds: Record<Mode, ArmRound[]> = { "p2c-ewma": [], "queue-group": [] };
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  for (let pair = 0; pair < Number(pairsText); pair++) {
    for (const mode of pair % 2 === 0 ? MODES : [...MODES].reverse()) {
      const fromUs = nowUs();
      const cpuBefore = process.cpuUsage();
      const round = await runConcurrent(calls[mode], inFlight, ROUND_MS);
      const { system } = process.cpuUsage(cpuBefore);
      rounds[mode].push({ fromUs, toUs: nowUs(), calls: round.calls, cpuUs: round.cpuUs, systemUs: system });
    }
  }
  process.stdout.write(`${JSON.stringify(rounds)}\n`);
} finally {
  await Promise.all(meshes.map((m) => m.close()));
  await nats.stop();
}
