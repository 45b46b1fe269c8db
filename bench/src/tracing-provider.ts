import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";

/** Exports nothing, at once: the tracing suite measures making spans, not shipping them. */
const noopExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => undefined,
};

/** What a traced service runs: every call sampled, spans batched to an exporter. */
export function benchTracerProvider(): BasicTracerProvider {
  return new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(noopExporter)],
  });
}
