// The gateway's API for tests and tools: start it, and make or check API keys.
export type { KeysFile } from "./api-keys.js";
export { ApiKeys, hashApiKey, newApiKey } from "./api-keys.js";
export type { Gateway, GatewayOptions } from "./gateway.js";
export { startGateway } from "./gateway.js";
