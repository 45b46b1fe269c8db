import {
  type Context,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

/** W3C trace context as HTTP headers (lower-case names, as Node gives them). */
export type TraceHeaders = Record<string, string>;

// version 00: 2-32-16-2 hex
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

const getter: TextMapGetter<TraceHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const setter: TextMapSetter<TraceHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The trace id of a `traceparent` header, or undefined when it is not a valid one. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null || m[1] === "ff" || /^0+$/.test(m[2] as string)) return undefined;
  return m[2];
}

/**
 * The trace headers of the active span (the handled request's SERVER span inside a handler): what
 * the app gets, so its own calls join the trace. The installed propagator writes them when an SDK
 * is running; otherwise `traceparent` is written here.
 */
export function activeTraceHeaders(): TraceHeaders {
  const headers: TraceHeaders = {};
  if (propagation.fields().length > 0) {
    propagation.inject(context.active(), headers, setter);
    return headers;
  }
  const span = trace.getSpanContext(context.active());
  if (span !== undefined && isSpanContextValid(span)) {
    headers["traceparent"] = `00-${span.traceId}-${span.spanId}-0${span.traceFlags & 1}`;
    const state = span.traceState?.serialize();
    if (state) headers["tracestate"] = state;
  }
  return headers;
}

/** The context an app's trace headers describe: calls made in it are children of the app's span. */
export function contextOf(headers: TraceHeaders): Context {
  if (headers["traceparent"] === undefined) return ROOT_CONTEXT;
  if (propagation.fields().length > 0) return propagation.extract(ROOT_CONTEXT, headers, getter);
  const m = TRACEPARENT.exec(headers["traceparent"].trim());
  if (m === null || traceIdOf(headers["traceparent"]) === undefined) return ROOT_CONTEXT;
  const parent = {
    traceId: m[2] as string,
    spanId: m[3] as string,
    traceFlags: Number.parseInt(m[4] as string, 16) & 1,
    isRemote: true,
  };
  return isSpanContextValid(parent) ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}
