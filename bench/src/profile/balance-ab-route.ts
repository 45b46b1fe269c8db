// `node --import tsx bench/src/profile/balance-ab-route.ts CHECKOUT [CHECKOUT]`, with
// NODE_OPTIONS=--conditions=@switchyard/source: the routing bookkeeping of one balanced call alone
// (`begin`, `hedges`, `next`, `settled`: the pick, the Peak-EWMA, the outlier window, their clock
// reads), in ns per call, for each checkout's `mesh-runtime/src` (a checkout may be a directory
// holding only that), 64 calls in flight over three instances. Repetitions alternate the order;
// with two checkouts it prints the median of the paired differences, which a busy machine moves far
// less than either figure. No NATS: membership is a stub, as the balancer's unit tests have it.
import { resolve } from "node:path";

const CALLS_PER_REP = 100_000;
const REPS = 80;
const IN_FLIGHT = 64;

interface Route {
  hedges(first: number): boolean;
  next(): string;
  settled(result: unknown): boolean;
}

/** The loop of one checkout: settles the oldest call in flight, then begins and picks a new one. */
async function loopOf(checkout: string): Promise<() => void> {
  const load = (path: string) => import(resolve(checkout, "mesh-runtime/src", path));
  const { AttemptRouter } = await load("routing/attempt-router.ts");
  const { Balancer } = await load("routing/balancer.ts");
  const { CALL_DEFAULTS } = await load("options.ts");
  const members = ["a", "b", "c"].map((c) => ({
    id: c.repeat(12),
    version: "1.0.0",
    endpoints: new Set(["run"]),
  }));
  const watched = new Map([["bench-shed", { members, version: 1 }]]);
  const source = {
    of: (service: string) => watched.get(service)?.members ?? [],
    versionOf: (service: string) => watched.get(service)?.version ?? 0,
    gone: () => undefined,
    doubt: () => undefined,
  };
  // telemetry and the log are used only on hedges and ejections, which this loop never has
  const router = new AttemptRouter(new Balancer("mesh", source), {} as never, {} as never, () => false);
  const target = { service: "bench-shed", endpoint: "run", subject: "mesh.svc.bench-shed.run" };
  const call = {
    target,
    subject: target.subject,
    major: undefined,
    settings: { ...CALL_DEFAULTS, balance: "p2c-ewma" },
    idempotent: false,
    maxAttempts: 3,
    tenant: undefined,
    budget: {},
    span: {},
    signal: undefined,
  };
  const ring: (Route | undefined)[] = new Array(IN_FLIGHT);
  const reply = { instance: "a" };
  let at = 0;
  return () => {
    for (let i = 0; i < CALLS_PER_REP; i++) {
      ring[at]?.settled(reply);
      const route: Route = router.begin(call);
      if (!route.hedges(1)) route.next();
      ring[at] = route;
      at = (at + 1) % IN_FLIGHT;
    }
  };
}

const checkouts = process.argv.slice(2);
if (checkouts.length === 0) throw new Error("usage: balance-ab-route.ts CHECKOUT [CHECKOUT]");
const loops = await Promise.all(checkouts.map(loopOf));
const nsPerCall = checkouts.map((): number[] => []);
// two warm-up repetitions, then REPS measured, the order alternating
for (let rep = 0; rep < REPS + 2; rep++) {
  for (let k = 0; k < loops.length; k++) {
    const which = rep % 2 === 0 ? k : loops.length - 1 - k;
    const started = process.hrtime.bigint();
    loops[which]?.();
    const ns = Number(process.hrtime.bigint() - started) / CALLS_PER_REP;
    if (rep >= 2) nsPerCall[which]?.push(ns);
  }
}
const sorted = (xs: readonly number[]) => [...xs].sort((x, y) => x - y);
const at = (xs: readonly number[], q: number) =>
  (xs[Math.floor(q * (xs.length - 1))] ?? Number.NaN).toFixed(0);
for (const [k, checkout] of checkouts.entries()) {
  const s = sorted(nsPerCall[k] ?? []);
  process.stdout.write(`${checkout}: ${at(s, 0.5)} ns/call (quartiles ${at(s, 0.25)}–${at(s, 0.75)})\n`);
}
const [first, second] = nsPerCall;
if (first !== undefined && second !== undefined) {
  const d = sorted(second.map((ns, i) => ns - (first[i] ?? Number.NaN)));
  process.stdout.write(`second − first: ${at(d, 0.5)} ns/call (quartiles ${at(d, 0.25)} / ${at(d, 0.75)})\n`);
}
