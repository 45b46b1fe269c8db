import type { AccountPlan, Export, Import } from "./account-plan.js";

export interface RenderInput {
  readonly accounts: readonly AccountPlan[];
  /** Public nkey of every identity, by name. */
  readonly publicKeys: ReadonlyMap<string, string>;
  /** Where nats-server keeps JetStream (the controller's policy bucket). */
  readonly storeDir: string;
}

const quote = (s: string) => JSON.stringify(s);
const list = (items: readonly string[]) => `[${items.map(quote).join(", ")}]`;

function exportLine(e: Export): string {
  if (e.kind === "stream") return `{ stream: ${quote(e.subject)}, accounts: ${list(e.accounts)} }`;
  const streamed = e.streamed ? ", response_type: stream" : "";
  return `{ service: ${quote(e.subject)}, accounts: ${list(e.accounts)}${streamed}, response_threshold: ${quote(e.responseThreshold)} }`;
}

function importLine(i: Import): string {
  const to = i.to === undefined ? "" : `, to: ${quote(i.to)}`;
  return `{ ${i.kind}: { account: ${quote(i.account)}, subject: ${quote(i.subject)} }${to} }`;
}

function block(name: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : [`    ${name}: [`, ...lines.map((l) => `      ${l}`), "    ]"];
}

function accountBlock(plan: AccountPlan, key: string): string[] {
  const deny = plan.publishDeny.length === 0 ? "" : `, deny: ${list(plan.publishDeny)}`;
  return [
    `  ${quote(plan.name)}: {`,
    ...(plan.jetstream ? ["    jetstream: enabled"] : []),
    "    users: [",
    "      {",
    `        nkey: ${quote(key)}`,
    "        permissions: {",
    `          publish: { allow: ${list(plan.publishAllow)}${deny} }`,
    `          subscribe: { allow: ${list(plan.subscribeAllow)} }`,
    "        }",
    "      }",
    "    ]",
    ...block("exports", plan.exports.map(exportLine)),
    ...block("imports", plan.imports.map(importLine)),
    "  }",
  ];
}

/**
 * The nats-server configuration: one account and one nkey user per identity. Deterministic: the
 * same policy, keys and store give the same bytes (accounts, lists and subjects in a fixed order).
 */
export function renderServerConfig(input: RenderInput, header: string): string {
  const accounts = input.accounts.flatMap((plan) => {
    const key = input.publicKeys.get(plan.name);
    if (key === undefined) throw new Error(`no public key for ${plan.name}`);
    return accountBlock(plan, key);
  });
  return [
    header,
    `jetstream: { store_dir: ${quote(input.storeDir)} }`,
    "accounts: {",
    ...accounts,
    "}",
    "",
  ].join("\n");
}
