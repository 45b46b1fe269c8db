import {
  appliedSubject,
  CONTROLLER_SERVICE,
  CONTROLLER_WRITE_ENDPOINTS,
  callableBy,
  cancelSubject,
  configSubject,
  endpointSubject,
  instanceSubjects,
  type Policy,
  policyApiPrefix,
  queueGroup,
  reportRequestSubject,
  serviceSubjects,
  versionSubjects,
} from "@switchyard/schemas";

/** The identity the CLI (and any operator tool) connects as; it alone may change the policy. */
export const OPERATOR = "switchyard-cli";

/** What the broker is told about one identity: its account (named as the identity) and its user. */
export interface AccountPlan {
  readonly name: string;
  /** Only the controller's account holds a JetStream store: the policy bucket. */
  readonly jetstream: boolean;
  readonly publishAllow: readonly string[];
  readonly publishDeny: readonly string[];
  readonly subscribeAllow: readonly string[];
  readonly exports: readonly Export[];
  readonly imports: readonly Import[];
}

export type Export =
  | {
      readonly kind: "service";
      readonly subject: string;
      readonly accounts: readonly string[];
      /** Many replies per request (discovery gathers every instance); default one. */
      readonly streamed: boolean;
      readonly responseThreshold: string;
    }
  | { readonly kind: "stream"; readonly subject: string; readonly accounts: readonly string[] };

export interface Import {
  readonly kind: "service" | "stream";
  readonly account: string;
  readonly subject: string;
  /** The local subject, when it differs from the exported one. */
  readonly to?: string;
}

export interface PlanInput {
  readonly policy: Policy;
  readonly prefix: string;
  /** JetStream KV bucket of the policy. */
  readonly bucket: string;
}

/** How long a discovery reply may trail its request: gatherers wait about a second. */
const DISCOVERY_THRESHOLD = "5s";
/** nats-server's own default for a service reply; a policy with longer calls raises it. */
const MIN_REPLY_THRESHOLD_MS = 120_000;

/** Every identity the policy implies: the services it names, the controller and the operator. */
export function identities(policy: Policy): string[] {
  const names = new Set<string>([CONTROLLER_SERVICE, OPERATOR, ...Object.keys(policy.services)]);
  for (const rule of policy.access.rules) {
    for (const name of [rule.from, rule.to]) if (name !== "*") names.add(name);
  }
  return [...names].sort();
}

type Grant = "*" | ReadonlySet<string>;

/**
 * What `caller` may call, as the broker is told: callee → every endpoint or some. A service never
 * calls itself through the broker (a request from its own account carries no broker-written
 * identity, so its callee would refuse it); the controller's writes are the operator's alone.
 */
function grantsOf(caller: string, policy: Policy, serving: readonly string[]): Map<string, Grant> {
  const out = new Map<string, Grant>();
  const add = (to: string, endpoints: Grant) => {
    if (to === caller || !serving.includes(to)) return;
    const had = out.get(to);
    if (had === "*") return;
    if (endpoints === "*") {
      out.set(to, "*");
      return;
    }
    const merged = new Set([...(had ?? []), ...endpoints]);
    if (caller !== OPERATOR && to === CONTROLLER_SERVICE) {
      for (const write of CONTROLLER_WRITE_ENDPOINTS) merged.delete(write);
    }
    if (merged.size > 0) out.set(to, merged);
  };
  const callable = callableBy(policy.access, caller);
  if (callable.has("*")) for (const to of serving) add(to, "*");
  for (const [to, endpoints] of callable) if (to !== "*") add(to, endpoints);
  if (caller === OPERATOR) add(CONTROLLER_SERVICE, "*");
  return out;
}

/** The longest call the policy allows, so a late reply still finds its way back. */
function replyThreshold(policy: Policy): string {
  let longest = MIN_REPLY_THRESHOLD_MS;
  const visit = (value: unknown, key: string | undefined) => {
    if (typeof value === "number" && key === "timeoutMs") longest = Math.max(longest, value);
    else if (Array.isArray(value)) for (const item of value) visit(item, undefined);
    else if (typeof value === "object" && value !== null)
      for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(policy, undefined);
  return `${Math.ceil(longest / 1000)}s`;
}

const discoveryExports = (service: string) => [`$SRV.*.${service}`, `$SRV.*.${service}.*`];

/** What a caller that balances asks of a callee: its instances (`Membership`, docs/POLICY.md § balance). */
const membershipSubject = (service: string) => `$SRV.INFO.${service}`;

/**
 * The discovery requests an instance of `id` answers (mesh-runtime/src/discovery/responder.ts):
 * bare, for its own service, and for itself. Nothing wider: a client of this account that could
 * subscribe to `$SRV.INFO.<callee>` could answer this account's own membership requests, and the
 * callee's instances would no longer be the broker's word.
 */
const discoveryAnswers = (id: string) => [
  "$SRV.PING",
  "$SRV.INFO",
  "$SRV.STATS",
  `$SRV.*.${id}`,
  `$SRV.*.${id}.*`,
];

/** The read-only JetStream API calls a runtime makes to read the bucket (stream info, gets). */
function policyReads(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [`STREAM.INFO.${stream}`, `STREAM.MSG.GET.${stream}`, `DIRECT.GET.${stream}.>`];
}

const sorted = (items: Iterable<string>) => [...new Set(items)].sort();

/** Where one service's requests arrive: plain, per version and per instance (docs/PROTOCOL.md §2). */
const requestSubjects = (prefix: string, service: string) => [
  serviceSubjects(prefix, service),
  versionSubjects(prefix, service),
  instanceSubjects(prefix, service),
];

/** The same, narrowed to one endpoint: the version or instance token is a wildcard. */
const endpointSubjects = (prefix: string, service: string, endpoint: string) => [
  endpointSubject(prefix, service, endpoint),
  `${prefix}.ver.${service}.*.${endpoint}`,
  `${prefix}.inst.${service}.*.${endpoint}`,
];

/**
 * The denies some allowed subject overlaps. The others refuse nothing the allow-list lets through,
 * and nats-server checks a deny-list on every publish its cache has not seen: each reply goes to
 * a new `_R_` subject, so an idle deny would cost a sublist match per request.
 */
function neededDenies(deny: readonly string[], allow: readonly string[]): string[] {
  return deny.filter((d) => allow.some((a) => subjectsOverlap(a, d)));
}

/** Whether some subject matches both NATS patterns (`*` one token, `>` one or more). */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] === ">" || y[i] === ">") return true;
    if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
  }
  return x.length === y.length;
}

/**
 * One account per identity. Endpoints are service exports imported only by the accounts the access
 * rules allow, so every request crosses an import: the server writes who sent it and rewrites its
 * reply subject. Nothing grants `allow_responses`: replies go to the `_R_` subjects the server maps
 * back, so no identity can pick a reply subject another will publish to.
 *
 * No import is `share: true`. The server writes `Nats-Request-Info` with the sender's account
 * (`acc`) into every request that crosses a service import, shared or not, and with one user per
 * account the account is the identity; `share` would add the user, client and server details,
 * which nothing reads, for a JSON encoding and ~350 header bytes per request in the broker.
 */
export function planAccounts(input: PlanInput): AccountPlan[] {
  const { policy, prefix, bucket } = input;
  const ids = identities(policy);
  const serving = ids.filter((id) => id !== OPERATOR);
  const gatherers = [CONTROLLER_SERVICE, OPERATOR];
  const grants = new Map(ids.map((id) => [id, grantsOf(id, policy, serving)]));
  const callersOf = (callee: string) => ids.filter((id) => grants.get(id)?.has(callee));
  const followers = ids.filter((id) => id !== CONTROLLER_SERVICE && id !== OPERATOR);
  const readers = ids.filter((id) => id !== CONTROLLER_SERVICE);
  const apiPrefix = policyApiPrefix(bucket);
  const threshold = replyThreshold(policy);

  return ids.map((id): AccountPlan => {
    const exports: Export[] = [];
    const imports: Import[] = [];
    const publishAllow: string[] = [];
    const publishDeny: string[] = [];
    const service = (account: string, subject: string, to?: string) =>
      imports.push({ kind: "service", account, subject, ...(to === undefined ? {} : { to }) });

    if (serving.includes(id)) {
      const callers = callersOf(id);
      if (callers.length > 0) {
        for (const subject of [...requestSubjects(prefix, id), cancelSubject(prefix, id)]) {
          exports.push({
            kind: "service",
            subject,
            accounts: callers,
            streamed: false,
            responseThreshold: threshold,
          });
        }
      }
      for (const subject of discoveryExports(id)) {
        exports.push({
          kind: "service",
          subject,
          accounts: gatherers.filter((g) => g !== id),
          streamed: true,
          responseThreshold: DISCOVERY_THRESHOLD,
        });
      }
      // its callers ask its instances, to balance over them; gatherers import all of `$SRV.*.<id>`
      const balancers = callers.filter((c) => !gatherers.includes(c));
      if (balancers.length > 0) {
        exports.push({
          kind: "service",
          subject: membershipSubject(id),
          accounts: balancers,
          streamed: true,
          responseThreshold: DISCOVERY_THRESHOLD,
        });
      }
      // only an import may deliver to its endpoints: what arrives carries the broker's word on who sent it
      // (denied below only where an allowed subject would cover them, see `neededDenies`)
      publishDeny.push(...requestSubjects(prefix, id), cancelSubject(prefix, id));
    }

    if (id === CONTROLLER_SERVICE) {
      for (const subject of [configSubject(prefix), reportRequestSubject(prefix)]) {
        exports.push({ kind: "stream", subject, accounts: followers });
      }
      // a service export, not a stream: the sender's reply subject is rewritten, and the
      // controller learns the sender's account from Nats-Request-Info
      exports.push({
        kind: "service",
        subject: appliedSubject(prefix),
        accounts: followers,
        streamed: false,
        responseThreshold: DISCOVERY_THRESHOLD,
      });
      for (const read of policyReads(bucket)) {
        exports.push({
          kind: "service",
          subject: `$JS.API.${read}`,
          accounts: readers,
          streamed: false,
          responseThreshold: DISCOVERY_THRESHOLD,
        });
      }
      // its own account: the bucket, the announcements, discovery of every service (the dashboard)
      publishAllow.push(`${prefix}.config.>`, "$JS.API.>", `$KV.${bucket}.>`, "$SRV.>");
    } else {
      for (const read of policyReads(bucket)) {
        service(CONTROLLER_SERVICE, `$JS.API.${read}`, `${apiPrefix}.${read}`);
        publishAllow.push(`${apiPrefix}.${read}`);
      }
      // the runtime asks its own account first and learns from the refusal that it has no JetStream
      publishAllow.push(`$JS.API.STREAM.INFO.KV_${bucket}`);
      if (id !== OPERATOR) {
        imports.push({
          kind: "stream",
          account: CONTROLLER_SERVICE,
          subject: configSubject(prefix),
        });
        imports.push({
          kind: "stream",
          account: CONTROLLER_SERVICE,
          subject: reportRequestSubject(prefix),
        });
        service(CONTROLLER_SERVICE, appliedSubject(prefix));
        publishAllow.push(appliedSubject(prefix));
      }
    }

    const grant = grants.get(id) ?? new Map<string, Grant>();
    for (const callee of sorted(grant.keys())) {
      const endpoints = grant.get(callee) as Grant;
      const subjects =
        endpoints === "*"
          ? requestSubjects(prefix, callee)
          : sorted(endpoints).flatMap((e) => endpointSubjects(prefix, callee, e));
      for (const subject of [...subjects, cancelSubject(prefix, callee)]) {
        service(callee, subject);
        publishAllow.push(subject);
      }
      if (endpoints === "*" && callee === CONTROLLER_SERVICE && id !== OPERATOR) {
        for (const write of CONTROLLER_WRITE_ENDPOINTS)
          publishDeny.push(...endpointSubjects(prefix, callee, write));
      }
      // the callee's instances, answered only from its account: membership the broker vouches for
      if (!gatherers.includes(id)) {
        service(callee, membershipSubject(callee));
        publishAllow.push(membershipSubject(callee));
      }
    }

    if (gatherers.includes(id)) {
      for (const other of serving) {
        if (other === id) continue;
        for (const subject of discoveryExports(other)) service(other, subject);
      }
      publishAllow.push("$SRV.>");
    }

    let subscribeAllow: string[];
    if (id === OPERATOR) {
      subscribeAllow = [`_INBOX.${id}.>`];
    } else {
      // counting its own instances (quota `local`) asks its own account
      publishAllow.push(`$SRV.PING.${id}`);
      // replies: to callers in other accounts through the server's _R_ mapping, and to itself
      publishAllow.push("_R_.>", `_INBOX.${id}.>`);
      subscribeAllow = [
        `${serviceSubjects(prefix, id)} ${queueGroup(id)}`,
        // queue groups `<id>@<major>` cannot be named by a wildcard in a permission
        versionSubjects(prefix, id),
        instanceSubjects(prefix, id),
        cancelSubject(prefix, id),
        ...discoveryAnswers(id),
        `_INBOX.${id}.>`,
        configSubject(prefix),
        reportRequestSubject(prefix),
        ...(id === CONTROLLER_SERVICE ? [appliedSubject(prefix)] : []),
      ];
    }

    return {
      name: id,
      jetstream: id === CONTROLLER_SERVICE,
      publishAllow: sorted(publishAllow),
      publishDeny: sorted(neededDenies(publishDeny, publishAllow)),
      subscribeAllow: sorted(subscribeAllow),
      exports,
      imports,
    };
  });
}
