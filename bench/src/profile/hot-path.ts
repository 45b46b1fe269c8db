// `node --cpu-prof --cpu-prof-dir=DIR --import tsx bench/src/profile/hot-path.ts DIR [seconds] [in-flight]`,
// with NODE_OPTIONS=--conditions=@switchyard/source (profile.sh sets it)
// CPU profiles of both sides of a mesh call: this process is the caller (profiled by the flags
// above), the responder process is spawned with the same flags through NODE_OPTIONS. Prints the
// calls made and the measured window, so `cpu-profile-summary.ts` can keep only that window's
// samples (no start-up, warm-up or shutdown) and turn them into µs per call.
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract, ORDER } from "../echo-contract.js";
import { runConcurrent } from "../measure.js";
import { startPrivate } from "../nats-server.js";
import { startResponder } from "../responder-process.js";

const [dir, seconds = "10", inFlight = "64"] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: hot-path.ts PROFILE_DIR [seconds] [in-flight]");
const nats = await startPrivate();
const responder = await startResponder(nats.url, {}, 20_000, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
const logger = pino({ level: "info", base: { service: "bench-caller" } }, pino.destination(2));
const mesh = await connectMesh({ name: "bench-caller", servers: nats.url, logger });
const echo = mesh.client(echoContract);
await runConcurrent(() => echo.echo(ORDER), Number(inFlight), 2_000);
// V8 stamps profile samples with the monotonic clock in µs, as hrtime reads it
const fromUs = Number(process.hrtime.bigint() / 1000n);
const round = await runConcurrent(() => echo.echo(ORDER), Number(inFlight), Number(seconds) * 1_000);
const toUs = Number(process.hrtime.bigint() / 1000n);
await mesh.close();
await responder.stop();
await nats.stop();
process.stdout.write(
  `${JSON.stringify({ fromUs, toUs, calls: round.calls, cpuPerCallUs: round.cpuUs / round.calls, callsPerSecond: (round.calls * 1000) / round.elapsedMs })}\n`,
);
