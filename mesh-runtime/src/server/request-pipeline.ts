import type { Msg } from "@nats-io/nats-core";
import { handlerEnded, watchDeadline } from "./handler-deadline.js";
import { recordSuccess, release, replyFailed, replySucceeded } from "./request-outcome.js";
import {
  acquireSlot,
  admitQuota,
  checkAccess,
  checkTenant,
  drillFaults,
  handle,
  readHeaders,
  validateInput,
} from "./request-steps.js";
import type { PipelineHost, ServedEndpoint } from "./served-endpoint.js";
import { type Admitted, type InFlight, ServedRequest, type Validated } from "./served-request.js";

// the public `Handler` and the host mesh.ts implements are named where the pipeline is
export type { Handler, PipelineHost, ServedEndpoint } from "./served-endpoint.js";

/**
 * The server pipeline. The order, and why:
 * 1. headers and deadline: malformed headers and spent budgets are refused before any work; the
 *    SERVER span starts here, child of the caller's span (`traceparent`), and every step below
 *    that decides something (shed, quota, fault, replay) is an event on it;
 * 2. tenant, then access: the tenant is the one a tenant issuer's token vouches for (a token
 *    that does not verify, or a tenant without one under `tenants.require: verified`, is
 *    refused), and every later step and figure counts that tenant, never the asserted header;
 *    an unknown tenant (when the policy denies them) or a caller the access rules do not allow
 *    (defence in depth: the broker enforces the same rules) is refused before anything is
 *    spent on it;
 * 3. quota (Redis): a tenant over its quota costs no concurrency slot;
 * 4. concurrency limit: shed with OVERLOADED before work, so the caller's retry goes elsewhere;
 *    the tenant above its fair share and the least critical requests go first;
 * 5. injected faults (policy drills): they act like a failing handler, so after the limit;
 * 6. input decoding and validation: the handler only ever sees input its schema accepts (unless
 *    the policy turns `validation.input` off for the endpoint);
 * 7. idempotent replay (dedupe endpoints): a repeat gets the first reply, never a second run,
 *    and a key reused with another body is CONFLICT (after validation: the body is decoded);
 * 8. the handler, with a context whose signal aborts at the deadline or when the caller cancels
 *    (the context exists, and takes cancels, from step 2 on); one that ignores the signal gives
 *    its concurrency slot back at the deadline all the same, its late reply is not sent, and the
 *    request's promise settles when the handler ends (drain waits for it);
 * 9. the reply: the handler's output, encoded; the caller checks it against the contract (it is
 *    the side a bad reply would harm), so the callee does not check it a second time.
 * Every request gets exactly one reply, or none once its deadline has passed (nobody waits).
 * A throw of any kind becomes a typed error reply at this one boundary.
 * Each step takes the mark of the one before (`served-request.ts`), so this order is checked by
 * the compiler; steps with nothing to wait for return at once rather than a promise, so a request
 * whose quota, drills and handler have nothing to wait for is answered in the callback that
 * delivered it, with no promise made (the returned promise is undefined then).
 */
export function serveRequest(
  msg: Msg,
  endpoint: ServedEndpoint,
  host: PipelineHost,
  inFlight: InFlight,
): Promise<void> | undefined {
  const r = new ServedRequest(msg, endpoint, host, inFlight);
  endpoint.counters.inFlight++;
  host.telemetry.activeRequests(endpoint, 1);
  let validated: Validated | Promise<Validated>;
  try {
    validated = admit(r);
  } catch (thrown) {
    fail(r, thrown, -1);
    return undefined;
  }
  if (validated instanceof Promise) {
    return validated.then(runAndReply, (thrown: unknown) => fail(r, thrown, -1));
  }
  return runAndReply(validated);
}

/** Steps 1 to 6, at once unless the quota or a drill has something to wait for. */
function admit(r: ServedRequest): Validated | Promise<Validated> {
  const quota = admitQuota(checkAccess(checkTenant(readHeaders(r))));
  return quota instanceof Promise ? quota.then(limitAndValidate) : limitAndValidate(quota);
}

function limitAndValidate(r: Admitted): Validated | Promise<Validated> {
  const drill = drillFaults(acquireSlot(r));
  return drill instanceof Promise ? drill.then(validateInput) : validateInput(drill);
}

/**
 * Steps 7 to 9. A handler that returned a value is answered at once, in the callback that
 * delivered the request; only one that returned a promise is bounded by the deadline queue (a
 * deadline cannot pass unseen while the thread runs a synchronous handler: the reply is then
 * dropped as late), and leaves a promise the instance waits for when it drains.
 */
function runAndReply(r: Validated): Promise<void> | undefined {
  let body: Uint8Array | Promise<Uint8Array>;
  try {
    body = handle(r);
  } catch (thrown) {
    fail(r, thrown, -1);
    return undefined;
  }
  if (!(body instanceof Promise)) {
    succeed(r, body, -1);
    return undefined;
  }
  const watch = watchDeadline(r);
  return body.then(
    (bytes) => succeed(r, bytes, watch),
    (thrown: unknown) => fail(r, thrown, watch),
  );
}

function succeed(r: Validated, body: Uint8Array, watch: number): void {
  handlerEnded(watch);
  // a handler that overran was answered for at its deadline; it is only waited for
  if (r.expired) return;
  try {
    replySucceeded(r, body);
  } catch (thrown) {
    replyFailed(r, thrown);
    release(r);
    return;
  }
  // the reply is queued in nats.js, which writes it in a microtask queued with the first reply
  // of this turn: what a success leaves behind is done after that write, not before it
  answered.push(r);
  if (answered.length === 1) queueMicrotask(recordAnswered);
}

/** Successes replied to in this turn of the event loop, recorded and released after the write. */
const answered: Validated[] = [];

function recordAnswered(): void {
  for (const r of answered.splice(0)) {
    try {
      recordSuccess(r);
    } catch (error) {
      // telemetry that throws must not keep the request's slot, nor stop the others being recorded
      r.host.log.warn({ err: error, service: r.endpoint.service }, "could not record a request");
    }
    release(r);
  }
}

function fail(r: ServedRequest, thrown: unknown, watch: number): void {
  try {
    if (!r.expired) replyFailed(r, thrown);
  } finally {
    handlerEnded(watch);
    if (!r.expired) release(r);
  }
}
