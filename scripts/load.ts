// `npm start -- --load`: a small traffic generator through the gateway, so `switchyard top` has
// live numbers. acme (pro) orders steadily and reads its orders back; globex (free plan) orders
// faster than its quota allows and collects 429s; one request in fifteen is an acme order for
// c-broke, whose card is declined (422). The rest fits examples/policy.yaml at the default 20
// requests a second: acme orders about 11 a second, and its charges rule allows 30.
import { DEMO_KEYS } from "./demo-keys.js";

const SKUS = ["WIDGET-1", "GADGET-2"];
/** The tenant meant to hit its quota: its 429s are designed, anyone else's are failures. */
const OVER_QUOTA_TENANT = "globex";
type Tenant = "acme" | typeof OVER_QUOTA_TENANT;
/** The customer whose card is always declined: its 422s are designed. */
const DECLINED_CUSTOMER = "c-broke";

export interface LoadCounts {
  /** 2xx. */
  ok: number;
  /** 422 for the declined card, as designed (the stock is released). */
  declined: number;
  /** 429 for globex: over its free-plan quota, as designed. */
  limited: number;
  /** Anything else, or no answer: what the demo should never show. */
  failed: number;
  /** Answers by tenant, then HTTP status ("no answer" when the request itself failed). */
  byTenant: Record<string, Record<string, number>>;
}

export function newLoadCounts(): LoadCounts {
  return { ok: 0, declined: 0, limited: 0, failed: 0, byTenant: {} };
}

/** Every answer counted so far, whatever its status. */
export function answered(counts: LoadCounts): number {
  return counts.ok + counts.declined + counts.limited + counts.failed;
}

/**
 * The status line: counts by tenant and HTTP status, then the verdict, e.g.
 * `acme 200×30 201×60 422×9 · globex 201×10 429×20 · 90 ok, 9 declined, 20 over quota, 0 failed`.
 */
export function describeLoad(counts: LoadCounts): string {
  const tenants = Object.entries(counts.byTenant)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([tenant, statuses]) =>
        `${tenant} ${Object.entries(statuses)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([status, n]) => `${status}×${n}`)
          .join(" ")}`,
    );
  const verdict = `${counts.ok} ok, ${counts.declined} declined, ${counts.limited} over quota, ${counts.failed} failed`;
  return `${tenants.join(" · ") || "nothing yet"} · ${verdict}`;
}

function count(counts: LoadCounts, tenant: string, status: string): void {
  const statuses = counts.byTenant[tenant] ?? {};
  statuses[status] = (statuses[status] ?? 0) + 1;
  counts.byTenant[tenant] = statuses;
}

/** Sends about `perSecond` requests a second until `signal` aborts, counting into `counts`. */
export async function runLoad(
  gatewayUrl: string,
  perSecond: number,
  signal: AbortSignal,
  counts: LoadCounts = newLoadCounts(),
): Promise<LoadCounts> {
  const created: string[] = [];
  let i = 0;
  const one = async (tenant: Tenant, n: number) => {
    const key = DEMO_KEYS[tenant];
    const read = tenant === "acme" && n % 3 === 1 && created.length > 0;
    const customerId = n % 10 === 3 ? DECLINED_CUSTOMER : `c-${n % 50}`;
    const res = await fetch(
      read ? `${gatewayUrl}/orders/${created[n % created.length]}` : `${gatewayUrl}/orders`,
      {
        method: read ? "GET" : "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        ...(read
          ? {}
          : {
              body: JSON.stringify({
                customerId,
                lines: [{ sku: SKUS[n % SKUS.length], quantity: 1 + (n % 2) }],
              }),
            }),
        signal,
      },
    );
    const body = (await res.json()) as { orderId?: string };
    count(counts, tenant, String(res.status));
    if (res.ok) counts.ok++;
    else if (res.status === 429 && tenant === OVER_QUOTA_TENANT) counts.limited++;
    else if (res.status === 422 && !read && customerId === DECLINED_CUSTOMER) counts.declined++;
    else counts.failed++;
    // only acme reads back, and only its own orders (another tenant's are NOT_FOUND to it)
    if (tenant === "acme" && res.status === 201 && body.orderId !== undefined && created.length < 100) {
      created.push(body.orderId);
    }
  };
  const pending = new Set<Promise<void>>();
  while (!signal.aborted) {
    const n = i++;
    // one in five for globex, over its quota
    const tenant: Tenant = n % 5 === 4 ? OVER_QUOTA_TENANT : "acme";
    const p = one(tenant, n)
      .catch(() => {
        // a request cut short by the stop is not an answer
        if (signal.aborted) return;
        counts.failed++;
        count(counts, tenant, "no answer");
      })
      .finally(() => pending.delete(p));
    pending.add(p);
    await new Promise((r) => setTimeout(r, 1_000 / perSecond));
  }
  await Promise.allSettled(pending);
  return counts;
}
