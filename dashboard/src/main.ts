// The mesh dashboard: topology, services, policy and quotas, live from the controller's API.
import dagre from "@dagrejs/dagre";
// the API's shapes come from the controller that serves them (type-only: nothing of it is bundled)
import type {
  EdgeRow,
  EndpointRow,
  Figures,
  HistoryPoint,
  Snapshot as Overview,
  PolicyView,
  QuotaRow,
  ServicePage,
} from "@switchyard/controller";
import { html } from "htm/preact";
import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

// ---- small helpers ----

const fmt = (n: number | null | undefined, digits = 1) =>
  n === null || n === undefined ? "–" : n.toFixed(digits);
const pct = (n: number | null) => (n === null ? "–" : `${(n * 100).toFixed(1)}%`);
const unwell = (f: Figures & { sheds?: number }) =>
  (f.successRate !== null && f.successRate < 0.99) || (f.sheds ?? 0) > 0;

/**
 * An edge fails when the callee's replies do, or when its callers fail before reaching it
 * (CIRCUIT_OPEN, a spent retry budget) or hold a breaker open: a fast-failing caller never makes
 * an edge look healthy.
 */
const edgeUnwell = (e: EdgeRow) =>
  unwell(e) || (e.callerSide !== null && (unwell(e.callerSide) || e.callerSide.breakers.open > 0));

/** Failures by code, most first: "CIRCUIT_OPEN 40, UNAVAILABLE 3". */
const failureText = (failures: Record<string, number>) =>
  Object.entries(failures)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ") || "–";

/** Callers' breakers to an endpoint: "–" when no caller that answers discovery reports one. */
function breakers(b: EndpointRow["breakers"]) {
  if (b.open > 0) return html`<span class="bad">${b.open} open</span>`;
  if (b["half-open"] > 0) return html`<span class="bad">${b["half-open"]} half-open</span>`;
  return b.closed > 0 ? `${b.closed} closed` : "–";
}

/** Polls `url` every `ms` while mounted. */
function usePoll<T>(url: string, ms = 1_000): T | undefined {
  const [value, setValue] = useState<T | undefined>(undefined);
  useEffect(() => {
    let live = true;
    const load = () =>
      fetch(url)
        .then((r) => (r.ok ? (r.json() as Promise<T>) : undefined))
        .then((v) => live && v !== undefined && setValue(v))
        .catch(() => undefined);
    void load();
    const timer = setInterval(load, ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [url, ms]);
  return value;
}

/** The overview, pushed by the controller once a second (server-sent events). */
function useOverview(): Overview | undefined {
  const [overview, setOverview] = useState<Overview | undefined>(undefined);
  useEffect(() => {
    const source = new EventSource("/api/stream");
    source.addEventListener("overview", (e) =>
      setOverview(JSON.parse((e as MessageEvent<string>).data) as Overview),
    );
    return () => source.close();
  }, []);
  return overview;
}

function useRoute(): string[] {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean);
}

// ---- views ----

const NODE_W = 150;
const NODE_H = 40;

function Topology({ overview }: { overview: Overview }) {
  const layout = useMemo(() => {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 170, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    const names = new Set<string>([
      ...overview.instances.map((i) => i.service),
      ...overview.edges.flatMap((e) => [e.caller, e.service]),
    ]);
    for (const name of names) g.setNode(name, { width: NODE_W, height: NODE_H });
    for (const e of overview.edges) g.setEdge(e.caller, e.service, { width: 150, height: 18 });
    dagre.layout(g);
    return g;
  }, [overview]);
  const graph = layout.graph();
  const instances = (name: string) => overview.instances.filter((i) => i.service === name).length;
  return html`
    <h2>Topology</h2>
    <svg class="topology" width=${(graph.width ?? 400) + 40} height=${(graph.height ?? 200) + 40}>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#7a869e" />
        </marker>
      </defs>
      ${overview.edges.map((e) => {
        const points: Array<{ x: number; y: number }> = layout.edge(e.caller, e.service)?.points ?? [];
        const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" ");
        const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
        const side = e.callerSide;
        return html`<g class=${`edge${edgeUnwell(e) ? " failing" : ""}`} data-edge=${`${e.caller}>${e.service}`}>
          <path d=${d} marker-end="url(#arrow)" />
          <text x=${mid.x} y=${mid.y - 6} text-anchor="middle">${fmt(e.callsPerSec)}/s · ${pct(e.successRate)} · p99 ${fmt(e.p99Ms, 1)} ms</text>
          ${
            side === null
              ? null
              : html`<text x=${mid.x} y=${mid.y + 10} text-anchor="middle">caller: ${pct(side.successRate)}${
                  side.breakers.open > 0 ? ` · ${side.breakers.open} breaker open` : ""
                }</text>`
          }
        </g>`;
      })}
      ${layout.nodes().map((name) => {
        const n = layout.node(name);
        const count = instances(name);
        return html`<g class="node" data-node=${name} onClick=${() => (location.hash = `#/service/${name}`)}>
          <rect x=${n.x - NODE_W / 2} y=${n.y - NODE_H / 2} width=${NODE_W} height=${NODE_H} />
          <text x=${n.x} y=${n.y + 5} text-anchor="middle">${name}${count > 0 ? ` ×${count}` : ""}</text>
        </g>`;
      })}
    </svg>
    <p>Edges: calls/s · success · p99, as the callee measures them, and below the success the caller saw
      (failures that never reach the callee, such as an open breaker, included); red when either fails, a
      breaker is open or the callee sheds. Click a service.</p>
  `;
}

function Chart({
  title,
  points,
  pick,
}: {
  title: string;
  points: HistoryPoint[];
  pick: (p: HistoryPoint) => number | null;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const data: uPlot.AlignedData = [points.map((p) => p.t / 1_000), points.map((p) => pick(p))];
    if (plot.current === null && ref.current !== null) {
      plot.current = new uPlot(
        {
          title,
          width: 360,
          height: 160,
          series: [{}, { label: title, stroke: "#2e5bff", spanGaps: true }],
          legend: { show: false },
        },
        data,
        ref.current,
      );
    } else plot.current?.setData(data);
  }, [points]);
  useEffect(() => () => plot.current?.destroy(), []);
  return html`<div class="card" ref=${ref}></div>`;
}

function Service({ name }: { name: string }) {
  const page = usePoll<ServicePage>(`/api/services/${encodeURIComponent(name)}`);
  if (page === undefined) return html`<h2>${name}</h2><p>Waiting for statistics…</p>`;
  return html`
    <h2>Service ${name}</h2>
    <h3>Instances</h3>
    <table data-table="instances">
      <tr><th>Instance</th><th>Version</th><th>Policy</th><th>Runtime</th><th>Uptime</th><th>In flight</th></tr>
      ${page.instances.map(
        (i) => html`<tr><td>${i.id}</td><td>${i.version}</td><td class="num">${i.policyVersion ?? "–"}</td>
          <td>${i.runtime ?? "–"}</td><td class="num">${i.uptimeS} s</td><td class="num">${i.inFlight}</td></tr>`,
      )}
    </table>
    <h3>Versions</h3>
    <p>Calls per version over the last collection, routed, mirrored or not: a canary's share as routes move it.</p>
    <table data-table="versions">
      <tr><th>Version</th><th>Instances</th><th>Calls/s</th><th>Share</th><th>Success</th></tr>
      ${page.versions.map(
        (
          v,
        ) => html`<tr class=${v.successRate !== null && v.successRate < 0.99 ? "bad" : ""}><td>${v.version}</td>
          <td class="num">${v.instances}</td><td class="num">${fmt(v.callsPerSec)}</td>
          <td class="num">${pct(v.share)}</td><td class="num">${pct(v.successRate)}</td></tr>`,
      )}
    </table>
    <h3>Endpoints</h3>
    <table>
      <tr><th>Endpoint</th><th>Calls/s</th><th>Success</th><th>p50 ms</th><th>p99 ms</th><th>Sheds</th><th>Quota denied</th><th>Breakers</th></tr>
      ${page.endpoints.map(
        (
          e,
        ) => html`<tr class=${unwell(e) ? "bad" : ""}><td>${e.endpoint}</td><td class="num">${fmt(e.callsPerSec)}</td>
          <td class="num">${pct(e.successRate)}</td><td class="num">${fmt(e.p50Ms, 2)}</td><td class="num">${fmt(e.p99Ms, 2)}</td>
          <td class="num">${e.sheds}</td><td class="num">${e.quotaDenied}</td>
          <td>${breakers(e.breakers)}</td></tr>`,
      )}
    </table>
    <h3>Callers</h3>
    <p>Per caller and endpoint: the callee's success for that caller's requests (the whole service), and what
      the caller saw, failures raised before any reply included.</p>
    <table data-table="callers">
      <tr><th>Caller</th><th>Endpoint</th><th>Callee success</th><th>Caller calls/s</th><th>Caller success</th><th>Caller failures</th><th>Breakers</th></tr>
      ${page.callers.flatMap((edge) =>
        (edge.callerSide?.endpoints ?? [undefined]).map(
          (
            c,
          ) => html`<tr class=${edgeUnwell(edge) ? "bad" : ""}><td>${edge.caller}</td><td>${c?.endpoint ?? "–"}</td>
            <td class="num">${pct(edge.successRate)}</td><td class="num">${fmt(c?.callsPerSec)}</td>
            <td class="num">${pct(c?.successRate ?? null)}</td><td>${c === undefined ? "–" : failureText(c.failures)}</td>
            <td>${c === undefined ? "–" : breakers(c.breakers)}</td></tr>`,
        ),
      )}
    </table>
    ${page.endpoints.map(
      (e) => html`<h3>${e.endpoint}: the last 15 minutes</h3>
        <div class="charts">
          <${Chart} title="calls/s" points=${e.history} pick=${(p: HistoryPoint) => p.callsPerSec} />
          <${Chart} title="p99 ms" points=${e.history} pick=${(p: HistoryPoint) => p.p99Ms} />
        </div>`,
    )}
  `;
}

function Policy() {
  const view = usePoll<PolicyView>("/api/policy");
  const [from, setFrom] = useState<number | undefined>(undefined);
  const [to, setTo] = useState<number | undefined>(undefined);
  const [diff, setDiff] = useState<string>("");
  const current = view?.current;
  // any two versions; by default the one before the current against the current
  const a = from ?? (current !== undefined && current.version > 1 ? current.version - 1 : undefined);
  const b = to ?? current?.version;
  useEffect(() => {
    if (a === undefined || b === undefined || a === b) return setDiff("");
    fetch(`/api/policy/diff/${a}/${b}`)
      .then((r) => r.json() as Promise<{ text: string }>)
      .then((d) => setDiff(d.text))
      .catch(() => setDiff(""));
  }, [a, b]);
  const versions = (view?.history ?? []).map((h) => h.version);
  const picker = (value: number | undefined, set: (v: number) => void) =>
    html`<select value=${value} onChange=${(e: Event) => set(Number((e.target as HTMLSelectElement).value))}>
      ${versions.map((v) => html`<option value=${v}>${v}</option>`)}
    </select>`;
  if (view === undefined) return html`<h2>Policy</h2><p>Loading…</p>`;
  if (current === undefined) return html`<h2>Policy</h2><p>No policy has been applied yet.</p>`;
  return html`
    <h2>Policy version <span data-policy-version>${current.version}</span></h2>
    <p>${current.createdAt}${current.author ? ` by ${current.author}` : ""}${current.note ? ` — ${current.note}` : ""}</p>
    <h3>Rollout of version ${view.rollout.version}</h3>
    <table data-table="rollout">
      <tr><th>Service</th><th>Instance</th><th>Runs</th><th>State</th></tr>
      ${view.rollout.instances.map(
        (i) => html`<tr><td>${i.service}</td><td>${i.instanceId}</td><td class="num">${i.version}</td>
          <td class=${i.state === "current" ? "ok" : "bad"} data-state=${i.state}>${i.state}${i.reason ? `: ${i.reason}` : ""}</td></tr>`,
      )}
    </table>
    <h3>History</h3>
    <table>
      <tr><th>Version</th><th>When</th><th>Author</th><th>Note</th></tr>
      ${view.history.map(
        (
          h,
        ) => html`<tr><td class="num">${h.version}</td><td>${h.createdAt}</td><td>${h.author ?? ""}</td><td>${h.note ?? ""}</td>
          </tr>`,
      )}
    </table>
    ${
      versions.length < 2
        ? ""
        : html`<h3>Changes from ${picker(a, setFrom)} to ${picker(b, setTo)}</h3><pre data-diff>${diff || "(no changes)"}</pre>`
    }
    <h3>Document</h3>
    <pre>${JSON.stringify(current.document, null, 2)}</pre>
  `;
}

function Quotas({ overview }: { overview: Overview }) {
  const policy = usePoll<PolicyView>("/api/policy", 5_000);
  const rules = new Map((policy?.current?.document.quotas ?? []).map((q) => [q.name, q]));
  const limit = (name: string) => {
    const q = rules.get(name);
    return q === undefined
      ? "–"
      : `${q.rate} per ${q.periodMs / 1_000} s, burst ${q.burst ?? q.rate}${q.shadow ? " (shadow)" : ""}`;
  };
  const n = (row: QuotaRow, k: string) => row.decisions[k] ?? 0;
  return html`
    <h2>Quotas</h2>
    <table data-table="quotas">
      <tr><th>Tenant</th><th>Rule</th><th>Limit</th><th>Where</th><th>Admitted</th><th>Denied</th><th>Shadow denied</th><th>Fail-open</th><th>Fail-closed</th></tr>
      ${overview.quotas.map(
        (
          q,
        ) => html`<tr data-tenant=${q.tenant}><td>${q.tenant}</td><td>${q.rule}</td><td>${limit(q.rule)}</td><td>${q.service}.${q.endpoint}</td>
          <td class="num">${n(q, "admitted")}</td><td class=${`num${n(q, "denied") > 0 ? " bad" : ""}`} data-denied=${n(q, "denied")}>${n(q, "denied")}</td>
          <td class="num">${n(q, "shadowDenied")}</td><td class="num">${n(q, "failOpen")}</td><td class="num">${n(q, "failClosed")}</td></tr>`,
      )}
    </table>
    <p>Decisions counted by the instances that enforce each rule, since they started.</p>
  `;
}

function App() {
  const overview = useOverview();
  const [view = "topology", arg] = useRoute();
  const link = (to: string, label: string) =>
    html`<a href=${`#/${to}`} class=${view === to ? "active" : ""}>${label}</a>`;
  let body: ReturnType<typeof html>;
  if (overview === undefined) body = html`<p>Connecting to the controller…</p>`;
  else if (view === "service" && arg !== undefined)
    body = html`<${Service} name=${decodeURIComponent(arg)} />`;
  else if (view === "policy") body = html`<${Policy} />`;
  else if (view === "quotas") body = html`<${Quotas} overview=${overview} />`;
  else body = html`<${Topology} overview=${overview} />`;
  return html`
    <header>
      <strong>Switchyard</strong>
      ${link("topology", "Topology")} ${link("policy", "Policy")} ${link("quotas", "Quotas")}
      <span class="status">${overview === undefined ? "connecting" : `live · ${overview.instances.length} instances · ${new Date(overview.at).toLocaleTimeString()}`}</span>
    </header>
    <main>${body}</main>
  `;
}

render(html`<${App} />`, document.getElementById("app") as HTMLElement);
