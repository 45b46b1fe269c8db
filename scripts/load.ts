// `npm start -- --load`: a small traffic generator through the gateway, so `switchyard top` has
// live numbers. acme (pro) orders steadily and reads its orders back; globex (free plan) orders
// faster than its quota allows and collects 429s.
import { DEMO_KEYS } from "./demo-keys.js";

const SKUS = ["WIDGET-1", "GADGET-2"];

export interface LoadCounts {
  ok: number;
  /** 429: over quota, as designed for globex. */
  limited: number;
  /** Anything else: what the demo should never show. */
  failed: number;
  byStatus: Record<string, number>;
}

export function newLoadCounts(): LoadCounts {
  return { ok: 0, limited: 0, failed: 0, byStatus: {} };
}

/**
 * The status line: counts by HTTP status, then the verdict. 429s (globex over its quota) and 422s
 * (a declined card) are the demo's designed refusals; anything else that is not 2xx is a failure.
 */
export function describeLoad(counts: LoadCounts): string {
  const byStatus = Object.entries(counts.byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}×${n}`)
    .join(" ");
  return `${byStatus || "nothing yet"} · ${counts.ok} ok, ${counts.limited} over quota, ${counts.failed} failed`;
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
  const one = async () => {
    const n = i++;
    // one in five for globex, over its quota; one in ten for c-broke, whose card is declined
    const tenant = n % 5 === 4 ? "globex" : "acme";
    const key = DEMO_KEYS[tenant];
    const read = tenant === "acme" && n % 3 === 1 && created.length > 0;
    const res = await fetch(
      read ? `${gatewayUrl}/orders/${created[n % created.length]}` : `${gatewayUrl}/orders`,
      {
        method: read ? "GET" : "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        ...(read
          ? {}
          : {
              body: JSON.stringify({
                customerId: n % 10 === 3 ? "c-broke" : `c-${n % 50}`,
                lines: [{ sku: SKUS[n % SKUS.length], quantity: 1 + (n % 2) }],
              }),
            }),
        signal,
      },
    );
    const body = (await res.json()) as { orderId?: string };
    counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
    if (res.status === 429) counts.limited++;
    else if (res.ok || res.status === 422)
      counts.ok++; // 422: a declined card, compensated
    else counts.failed++;
    if (res.status === 201 && body.orderId !== undefined && created.length < 100) created.push(body.orderId);
  };
  const pending = new Set<Promise<void>>();
  while (!signal.aborted) {
    const p = one()
      .catch(() => {
        if (signal.aborted) return;
        counts.failed++;
        counts.byStatus["no answer"] = (counts.byStatus["no answer"] ?? 0) + 1;
      })
      .finally(() => pending.delete(p));
    pending.add(p);
    await new Promise((r) => setTimeout(r, 1_000 / perSecond));
  }
  await Promise.allSettled(pending);
  return counts;
}
