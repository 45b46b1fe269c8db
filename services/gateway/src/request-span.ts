import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { MeshError } from "@switchyard/runtime";
import type { FastifyReply, FastifyRequest } from "fastify";

const tracer = trace.getTracer("@switchyard/gateway");
// the trace context of each request in flight, so its mesh calls continue the caller's trace
const contexts = new WeakMap<FastifyRequest, Context>();

/**
 * An `onRequest` hook: a SERVER span per request, child of the caller's `traceparent`, whose
 * `traceparent` goes back in the answer. It ends when the response closes (also when the client
 * leaves first).
 */
export async function traceRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parent = propagation.extract(context.active(), request.headers);
  const span = tracer.startSpan(
    `${request.method} ${request.url}`,
    { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method } },
    parent,
  );
  const sc = span.spanContext();
  if (isSpanContextValid(sc))
    reply.header("traceparent", `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`);
  reply.raw.once("close", () => {
    span.setAttribute("http.response.status_code", reply.raw.statusCode);
    span.end();
  });
  contexts.set(request, trace.setSpan(parent, span));
}

/** Names the request's span for its route (`POST /orders`), once the route is known. */
export function nameSpan(request: FastifyRequest, route: string): void {
  trace.getSpan(contextOf(request))?.updateName(`${request.method} ${route}`);
}

/** Runs `fn` in the request's trace context. */
export function inRequestSpan<T>(request: FastifyRequest, fn: () => T): T {
  return context.with(contextOf(request), fn);
}

export function setSpanAttribute(request: FastifyRequest, key: string, value: string): void {
  trace.getSpan(contextOf(request))?.setAttribute(key, value);
}

/** Marks the request's span failed: a 5xx answer. */
export function markSpanFailed(error: MeshError, request: FastifyRequest): void {
  trace
    .getSpan(contextOf(request))
    ?.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
}

function contextOf(request: FastifyRequest): Context {
  return contexts.get(request) ?? context.active();
}
