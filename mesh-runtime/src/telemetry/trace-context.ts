import {
  type Context,
  createContextKey,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";

/** The W3C trace headers a request carries (values as on the wire). */
export interface TraceHeaders {
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  baggage?: string | undefined;
}

// without an SDK the global propagator is a no-op; baggage then travels through untouched
const RAW_BAGGAGE = createContextKey("switchyard raw baggage");
// version 00 exactly; a later version may append fields, which are ignored
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;

const getter: TextMapGetter<TraceHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key as keyof TraceHeaders],
};
const setter: TextMapSetter<TraceHeaders> = {
  set: (carrier, key, value) => {
    if (key === "traceparent" || key === "tracestate" || key === "baggage") carrier[key] = value;
  },
};

const NO_TRACE: TraceHeaders = Object.freeze({});

/** True when an SDK has installed a propagator (the API's default one propagates nothing). */
function propagatorInstalled(): boolean {
  return propagation.fields().length > 0;
}

/**
 * The context a request's trace headers describe. The installed propagator reads them when there
 * is one; otherwise W3C `traceparent` is parsed here, so a process without an SDK still passes
 * its callers' trace on to its callees.
 */
export function extractTraceContext(headers: TraceHeaders): Context {
  if (headers.traceparent === undefined && headers.baggage === undefined) return ROOT_CONTEXT;
  if (propagatorInstalled()) return propagation.extract(ROOT_CONTEXT, headers, getter);
  let ctx = ROOT_CONTEXT;
  const m = headers.traceparent === undefined ? null : TRACEPARENT.exec(headers.traceparent);
  if (m !== null && m[1] !== "ff" && (m[1] !== "00" || headers.traceparent?.length === 55)) {
    const parent = {
      traceId: m[2] as string,
      spanId: m[3] as string,
      traceFlags: Number.parseInt(m[4] as string, 16) & 1,
      isRemote: true,
      ...(headers.tracestate === undefined ? {} : { traceState: createTraceState(headers.tracestate) }),
    };
    if (isSpanContextValid(parent)) ctx = trace.setSpanContext(ctx, parent);
  }
  if (headers.baggage !== undefined) ctx = ctx.setValue(RAW_BAGGAGE, headers.baggage);
  return ctx;
}

/** The trace headers for a request sent from `span` (the CLIENT span), a child of `parent`. */
export function injectTraceContext(parent: Context, client: Span): TraceHeaders {
  if (propagatorInstalled()) {
    const headers: TraceHeaders = {};
    propagation.inject(trace.setSpan(parent, client), headers, setter);
    return headers;
  }
  const span = client.spanContext();
  const baggage = parent.getValue(RAW_BAGGAGE);
  // no SDK and no trace to pass on: nothing to send, and nothing allocated per call for it
  if (!isSpanContextValid(span) && typeof baggage !== "string") return NO_TRACE;
  const headers: TraceHeaders = {};
  if (isSpanContextValid(span)) {
    headers.traceparent = `00-${span.traceId}-${span.spanId}-0${span.traceFlags & 1}`;
    const state = span.traceState?.serialize();
    if (state) headers.tracestate = state;
  }
  if (typeof baggage === "string") headers.baggage = baggage;
  return headers;
}
