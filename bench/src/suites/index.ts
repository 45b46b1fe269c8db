import type { Suite } from "../suite.js";
import { balance } from "./balance.js";
import { cancellation } from "./cancellation.js";
import { cli } from "./cli.js";
import { dashboard } from "./dashboard.js";
import { failFast } from "./fail-fast.js";
import { identity } from "./identity.js";
import { noisyNeighbour } from "./noisy-neighbour.js";
import { policyPropagation } from "./policy-propagation.js";
import { quota } from "./quota.js";
import { requestReply } from "./request-reply.js";
import { resilience } from "./resilience.js";
import { shedding } from "./shedding.js";
import { sidecar } from "./sidecar.js";
import { tracing } from "./tracing.js";

/** Every suite `npm run bench` runs, in order. A new suite is one entry here. */
export const suites: readonly Suite[] = [
  {
    name: "request-reply",
    description: "a mesh call vs Moleculer and raw nats.js request/reply, responder in another process",
    run: requestReply,
  },
  {
    name: "policy-propagation",
    description: "apply → every one of 20 runtimes reporting the new version",
    run: policyPropagation,
  },
  {
    name: "quota",
    description: "the quota step: no rule vs lease mode vs exact mode, against redis-server",
    run: quota,
  },
  {
    name: "resilience",
    description: "the circuit breaker and concurrency limiter on the hot path vs the core call",
    run: resilience,
  },
  {
    name: "tracing",
    description: "spans recorded on both sides (SDK, 100% sampled, batch processor) vs the no-op tracer",
    run: tracing,
  },
  {
    name: "fail-fast",
    description:
      "ms to CIRCUIT_OPEN from an open breaker, and to a denial whose Retry-After is past the deadline",
    run: failFast,
  },
  {
    name: "cancellation",
    description: "ms from a caller's abort to the callee's ctx.signal aborting, directly and through a hop",
    run: cancellation,
  },
  {
    name: "shedding",
    description: "tail latency with a slow instance shedding onto fast ones, and under an adaptive limit",
    run: shedding,
  },
  {
    name: "noisy-neighbour",
    description: "a quiet tenant's success rate and p99 while another floods the same chain past its quota",
    run: noisyNeighbour,
  },
  {
    name: "identity",
    description:
      "a mesh on a broker with rendered accounts and tenant tokens vs the same mesh on an open broker",
    run: identity,
  },
  {
    name: "sidecar",
    description:
      "a call through two sidecars (app → sidecar → mesh → sidecar → app) vs the runtime's own call",
    run: sidecar,
  },
  {
    name: "balance",
    description:
      "callers' p99 with one of three instances 200 ms slow over all healthy, p2c-ewma vs the queue group; their throughput",
    run: balance,
  },
  {
    name: "dashboard",
    description: "the overview's answer time and a collection's CPU with 200 instances publishing statistics",
    run: dashboard,
  },
  {
    name: "cli",
    description: "switchyard --help and services ls from the built package vs a bare node",
    run: cli,
  },
];
