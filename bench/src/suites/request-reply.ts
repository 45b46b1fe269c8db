import assert from "node:assert/strict";
import type { Msg } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { connectMesh } from "@switchyard/runtime";
import { pino } from "pino";
import { echoContract, ORDER, ORDER_BYTES, RAW_ECHO_SUBJECT } from "../echo-contract.js";
import { BareInboxFloor, natsRequestFloor } from "../floors.js";
import { type Call, type Round, runConcurrent, runSequential } from "../measure.js";
import { startPeerCaller } from "../moleculer-peer.js";
import { startResponder } from "../responder-process.js";
import { SECURE_CALLER, SECURE_TENANT, type SecureBroker, startSecureBroker } from "../secure-broker.js";
import type { BenchEnv, SuiteResult } from "../suite.js";
import {
  CLIENTS,
  type ClientName,
  LEVELS,
  type Level,
  SECURE,
  SECURE_LEVEL,
  summarize,
} from "./request-reply-summary.js";

// the runtime's default call deadline, so floor a waits as long as the mesh would
const TIMEOUT_MS = 5_000;
const WARMUP_IN_FLIGHT = 64;

interface Clients {
  readonly calls: Readonly<Record<ClientName | typeof SECURE, Call>>;
  close(): Promise<void>;
}

/**
 * The mesh with default options, the same mesh on the broker that vouches identity (a signed
 * tenant token on every call), the Moleculer peer, and each floor on a connection of its own.
 */
async function openClients(natsUrl: string, secureBroker: SecureBroker): Promise<Clients> {
  // level "info" as by default, but on stderr: stdout carries the report
  const logger = pino(
    { level: "info", base: { service: "bench-caller", pid: process.pid } },
    pino.destination(2),
  );
  const mesh = await connectMesh({ name: "bench-caller", servers: natsUrl, logger });
  const secure = await connectMesh({
    name: SECURE_CALLER,
    servers: secureBroker.url,
    auth: { nkeyFile: secureBroker.seedFile(SECURE_CALLER) },
    logger,
  });
  const secureEcho = secure.client(echoContract);
  const asTenant = { tenant: SECURE_TENANT };
  const ncA = await connect({ servers: natsUrl, name: "bench-floor-a" });
  const ncB = await connect({ servers: natsUrl, name: "bench-floor-b" });
  const echo = mesh.client(echoContract);
  const floorB = new BareInboxFloor(ncB);
  const peer = await startPeerCaller(natsUrl, ORDER);
  // the inbox subscriptions reach the server before the first request does
  await Promise.all([ncA.flush(), ncB.flush()]);
  return {
    calls: {
      mesh: () => echo.echo(ORDER),
      [SECURE]: () => secureEcho.echo(ORDER, asTenant),
      moleculer: peer.call,
      "floor-a": natsRequestFloor(ncA, RAW_ECHO_SUBJECT, ORDER_BYTES, TIMEOUT_MS),
      "floor-b": () => floorB.request(RAW_ECHO_SUBJECT, ORDER_BYTES),
    },
    close: async () => {
      await Promise.all([mesh.close(), secure.close(), peer.close(), ncA.drain(), ncB.drain()]);
    },
  };
}

/** A benchmark of the wrong thing is worse than none: every client must really echo. */
async function checkEchoes(calls: Clients["calls"]): Promise<void> {
  assert.deepEqual(await calls.mesh(), ORDER, "the mesh did not echo the order");
  assert.deepEqual(await calls[SECURE](), ORDER, "the mesh on the secure broker did not echo the order");
  assert.deepEqual(await calls.moleculer(), ORDER, "Moleculer did not echo the order");
  for (const floor of ["floor-a", "floor-b"] as const) {
    const reply = (await calls[floor]()) as Msg;
    assert.ok(Buffer.from(reply.data).equals(ORDER_BYTES), `${floor} did not echo the payload`);
  }
}

function runRound(call: Call, level: Level, durationMs: number): Promise<Round> {
  return level === 1 ? runSequential(call, durationMs) : runConcurrent(call, level, durationMs);
}

/** Clients in the order their rounds alternate at `level`: the secure mesh only at its level. */
function rotation(level: Level): ReadonlyArray<ClientName | typeof SECURE> {
  return level === SECURE_LEVEL ? [...CLIENTS, SECURE] : CLIENTS;
}

/**
 * A mesh call (deadline, retry bookkeeping, breaker, concurrency limit, error mapping, zod input
 * on the callee and output on the caller, pino at "info") against a peer (Moleculer over the same
 * server) and two floors, responder in another process, 100-byte JSON. Rounds alternate mesh,
 * moleculer, floor a, floor b (and, at 64 in flight, the mesh on a broker that vouches identity),
 * mesh... so machine noise hits all of them alike.
 */
export async function requestReply(env: BenchEnv): Promise<SuiteResult> {
  const secureBroker = await startSecureBroker();
  try {
    return await measureAll(env, secureBroker);
  } finally {
    await secureBroker.close();
  }
}

async function measureAll(env: BenchEnv, secureBroker: SecureBroker): Promise<SuiteResult> {
  const responder = await startResponder(env.natsUrl, {
    BENCH_SECURE_NATS_URL: secureBroker.url,
    BENCH_SECURE_SEED: secureBroker.seedFile(echoContract.name),
  });
  env.log(`request-reply: responder serving (pid ${responder.pid})`);
  try {
    const clients = await openClients(env.natsUrl, secureBroker);
    try {
      await checkEchoes(clients.calls);
      for (const client of rotation(SECURE_LEVEL)) {
        env.log(`request-reply: warming up ${client}`);
        await runConcurrent(clients.calls[client], WARMUP_IN_FLIGHT, env.warmupMs);
        await runSequential(clients.calls[client], env.warmupMs / 4);
      }
      const rounds = new Map<string, Round[]>();
      for (const level of LEVELS) {
        env.log(`request-reply: ${level} in flight, ${env.rounds} rounds of ${env.roundMs} ms per client`);
        for (let r = 0; r < env.rounds; r++) {
          for (const client of rotation(level)) {
            const key = `${client}@${level}`;
            const done = rounds.get(key) ?? [];
            done.push(await runRound(clients.calls[client], level, env.roundMs));
            rounds.set(key, done);
          }
        }
      }
      return summarize((client, level) => rounds.get(`${client}@${level}`) ?? [], env);
    } finally {
      await clients.close();
    }
  } finally {
    await responder.stop();
  }
}
