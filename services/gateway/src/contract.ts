import { defineContract } from "@switchyard/runtime";

/**
 * The gateway serves no mesh endpoint, but it answers discovery like any instance: its STATS carry
 * what it saw of its own calls (breakers, CIRCUIT_OPEN and other local failures), so `top` and the
 * dashboard show the gateway → orders edge from the caller's side too.
 */
export const gatewayContract = defineContract({ name: "gateway", version: "1.0.0", endpoints: {} });
