// The demo API keys of examples/api-keys.json, in plain text: published on purpose (README), so
// the demo can be tried with curl. Never use them, or that file, outside the demo.
export const DEMO_KEYS = {
  /** Tenant acme, on the pro plan. */
  acme: "sy_acme-demo_demo-key-for-acme-do-not-use",
  /** Tenant globex, on the free plan: 5 orders at once, then 10 a minute. */
  globex: "sy_globex-demo_demo-key-for-globex-do-not-use",
  /** Tenant initech: revoked, so the gateway refuses it. */
  revoked: "sy_initech-revoked_demo-key-revoked-do-not-use",
} as const;
