import {
  appliedSubject,
  CONTROLLER_SERVICE,
  CONTROLLER_WRITE_ENDPOINTS,
  callableBy,
  cancelSubject,
  configSubject,
  endpointSubject,
  type Policy,
  queueGroup,
  reportRequestSubject,
  serviceSubjects,
} from "@switchyard/schemas";

/** The identity the CLI (and any operator tool) connects as; it alone may change the policy. */
export const OPERATOR = "switchyard-cli";

/** One NATS user of the rendered configuration. */
export interface UserPermissions {
  readonly name: string;
  publish: string[];
  publishDeny: string[];
  subscribe: string[];
  /** Reply once to each request received, for this long. */
  responses: boolean;
}

export interface RenderInput {
  readonly policy: Policy;
  /** Public nkey of every identity, by name (services, controller, operator). */
  readonly publicKeys: ReadonlyMap<string, string>;
  readonly prefix: string;
  /** JetStream KV bucket of the policy. */
  readonly bucket: string;
}

const RESPONSE_EXPIRES = "5m";

/** Every identity the policy implies: the services it names, the controller and the operator. */
export function identities(policy: Policy): string[] {
  const names = new Set<string>([CONTROLLER_SERVICE, OPERATOR, ...Object.keys(policy.services)]);
  for (const rule of policy.access.rules) {
    for (const name of [rule.from, rule.to]) if (name !== "*") names.add(name);
  }
  return [...names].sort();
}

/** Subjects a service uses to read the policy from KV (stream info, direct and message get). */
function policyReads(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
  ];
}

/** What every identity subscribes to: its endpoints, cancels, discovery, its inbox, the policy. */
function ownSubscriptions(prefix: string, name: string): string[] {
  return [
    `${serviceSubjects(prefix, name)} ${queueGroup(name)}`,
    cancelSubject(prefix, name),
    "$SRV.>",
    `_INBOX.${name}.>`,
    configSubject(prefix),
    reportRequestSubject(prefix),
  ];
}

/** What one service may do: serve itself, call what the rules allow, follow the policy. */
export function servicePermissions(name: string, input: RenderInput): UserPermissions {
  const { policy, prefix, bucket } = input;
  const publish = [appliedSubject(prefix), `$SRV.PING.${name}`, ...policyReads(bucket)];
  const publishDeny: string[] = [];
  const callable = callableBy(policy.access, name);
  for (const [to, endpoints] of callable) {
    if (to === "*") {
      publish.push(`${prefix}.svc.>`, `${prefix}.cancel.>`);
      continue;
    }
    publish.push(cancelSubject(prefix, to));
    if (endpoints === "*") publish.push(serviceSubjects(prefix, to));
    else for (const e of endpoints) publish.push(endpointSubject(prefix, to, e));
  }
  // the policy is changed by the operator only, whatever the rules grant
  if (callable.has("*") || callable.has(CONTROLLER_SERVICE)) {
    for (const e of CONTROLLER_WRITE_ENDPOINTS)
      publishDeny.push(endpointSubject(prefix, CONTROLLER_SERVICE, e));
  }
  return {
    name,
    publish,
    publishDeny,
    subscribe: ownSubscriptions(prefix, name),
    responses: true,
  };
}

/** The controller: serves itself, owns the policy bucket and the config subjects. */
function controllerPermissions(input: RenderInput): UserPermissions {
  const { prefix, bucket } = input;
  return {
    name: CONTROLLER_SERVICE,
    // $SRV.>: the dashboard gathers every instance's statistics
    publish: [`${prefix}.config.>`, "$JS.API.>", `$KV.${bucket}.>`, "$SRV.>"],
    publishDeny: [],
    // the controller also collects what every runtime reports
    subscribe: [...ownSubscriptions(prefix, CONTROLLER_SERVICE), appliedSubject(prefix)],
    responses: true,
  };
}

/** The operator: calls anything (the controller's writes included) and reads discovery. */
function operatorPermissions(input: RenderInput): UserPermissions {
  const { prefix } = input;
  return {
    name: OPERATOR,
    publish: [`${prefix}.svc.>`, `${prefix}.cancel.>`, "$SRV.>", ...policyReads(input.bucket)],
    publishDeny: [],
    subscribe: [`_INBOX.${OPERATOR}.>`],
    responses: false,
  };
}

export function permissionsOf(name: string, input: RenderInput): UserPermissions {
  if (name === CONTROLLER_SERVICE) return controllerPermissions(input);
  if (name === OPERATOR) return operatorPermissions(input);
  return servicePermissions(name, input);
}

const quote = (s: string) => JSON.stringify(s);
const list = (items: readonly string[]) => `[${[...new Set(items)].sort().map(quote).join(", ")}]`;

/**
 * The nats-server configuration: one nkey user per identity with its permissions. Deterministic:
 * the same policy and keys give the same bytes (users and subjects sorted).
 */
export function renderServerConfig(input: RenderInput, header: string): string {
  const users = identities(input.policy).map((name) => {
    const key = input.publicKeys.get(name);
    if (key === undefined) throw new Error(`no public key for ${name}`);
    const p = permissionsOf(name, input);
    const publish =
      p.publishDeny.length === 0
        ? `publish: { allow: ${list(p.publish)} }`
        : `publish: { allow: ${list(p.publish)}, deny: ${list(p.publishDeny)} }`;
    const lines = [
      `    # ${name}`,
      "    {",
      `      nkey: ${quote(key)}`,
      "      permissions: {",
      `        ${publish}`,
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.responses ? [`        allow_responses: { max: 1, expires: ${quote(RESPONSE_EXPIRES)} }`] : []),
      "      }",
      "    }",
    ];
    return lines.join("\n");
  });
  return `${header}\nauthorization {\n  users: [\n${users.join("\n")}\n  ]\n}\n`;
}
