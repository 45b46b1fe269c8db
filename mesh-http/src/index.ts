// The mesh's HTTP edge on Fastify, shared by the gateway and the dashboard: one server factory,
// one MeshError → HTTP answer (the sidecar's own API server answers with it too), one kind of
// server-sent stream.

export type { MeshErrorAnswer } from "./error-reply.js";
export { logServerError, meshErrorAnswer, meshErrorOf, sendMeshError } from "./error-reply.js";
export type { EventStream } from "./event-streams.js";
export { EventStreams } from "./event-streams.js";
export type { HttpEdge, HttpEdgeOptions } from "./http-edge.js";
export { jsonBody, startHttpEdge } from "./http-edge.js";
