// The mesh's HTTP edge on Fastify, shared by the gateway, the dashboard and the sidecar: one
// server factory, one MeshError → HTTP answer, one kind of server-sent stream.

export { meshErrorOf, sendMeshError } from "./error-reply.js";
export type { EventStream } from "./event-streams.js";
export { EventStreams } from "./event-streams.js";
export type { HttpEdge, HttpEdgeOptions } from "./http-edge.js";
export { jsonBody, startHttpEdge } from "./http-edge.js";
