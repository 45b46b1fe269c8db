import { timingSafeEqual } from "node:crypto";
import { jsonBody } from "@switchyard/http";
import { MeshError } from "@switchyard/runtime";
import { issueDetails, summarizeIssues } from "@switchyard/schemas";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { z } from "zod";
import { controllerContract } from "../contract.js";
import type { ControllerApi } from "../controller-api.js";
import type { PolicyView, ServicePage } from "./api.js";
import type { StatsCollector } from "./collector.js";

/** What the JSON API reads from and writes through. */
export interface DashboardSources {
  readonly api: ControllerApi;
  readonly stats: StatsCollector;
}

/** The reads: statistics and policy, open to anyone who reaches the dashboard. */
export function readRoutes(app: FastifyInstance, { api, stats }: DashboardSources): void {
  app.get("/api/overview", () => stats.snapshot());
  app.get<{ Params: { name: string } }>(
    "/api/services/:name(^[A-Za-z0-9_-]+$)",
    async (request): Promise<ServicePage> => {
      const { name } = request.params;
      const snap = await stats.snapshot();
      const endpoints = snap.endpoints.filter((e) => e.service === name);
      if (endpoints.length === 0) throw new MeshError("NOT_FOUND", `no service ${name} answers discovery`);
      return {
        name,
        instances: snap.instances.filter((i) => i.service === name),
        endpoints: endpoints.map((e) => ({ ...e, history: stats.history(name, e.endpoint) })),
        callers: snap.edges.filter((e) => e.service === name),
        callees: snap.edges.filter((e) => e.caller === name),
        versions: snap.versions.filter((v) => v.service === name),
      };
    },
  );
  app.get("/api/policy", async (): Promise<PolicyView> => {
    const [status, history] = await Promise.all([api.status({}), api.history({ limit: 50 })]);
    const current = status.version > 0 ? await api.get({}) : undefined;
    return { current, history: history.versions, rollout: status };
  });
  app.get<{ Params: { from: string; to: string } }>("/api/policy/diff/:from(^\\d+$)/:to(^\\d+$)", (request) =>
    api.diff(parseInput("diff", { from: Number(request.params.from), to: Number(request.params.to) })),
  );
  app.get("/api/quotas", async () => (await stats.snapshot()).quotas);
}

/** The writes: apply and rollback, only with the operator token (none: the dashboard is read-only). */
export function writeRoutes(
  app: FastifyInstance,
  { api }: DashboardSources,
  token: string | undefined,
): void {
  const requireToken = (request: FastifyRequest, what: string) => {
    if (!tokenMatches(request, token))
      throw new MeshError("UNAUTHENTICATED", `${what} needs the operator token`);
  };
  app.post("/api/policy", (request) => {
    requireToken(request, "applying a policy");
    const body = jsonBody(request);
    const fields = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    return api.apply(parseInput("apply", { ...fields, author: "dashboard" }));
  });
  app.post<{ Params: { version: string } }>("/api/policy/rollback/:version(^\\d+$)", (request) => {
    requireToken(request, "a rollback");
    return api.rollback(
      parseInput("rollback", { toVersion: Number(request.params.version), author: "dashboard" }),
    );
  });
}

function tokenMatches(request: FastifyRequest, token: string | undefined): boolean {
  if (token === undefined) return false;
  const given = Buffer.from(request.headers.authorization?.replace(/^Bearer /, "") ?? "");
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

type Endpoints = (typeof controllerContract)["endpoints"];

/** A request for the controller, validated by its contract, as the mesh validates the CLI's. */
function parseInput<K extends keyof Endpoints>(endpoint: K, value: unknown): z.output<Endpoints[K]["input"]> {
  const parsed = controllerContract.endpoints[endpoint].input.safeParse(value);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", `invalid ${endpoint} request: ${summarizeIssues(parsed.error)}`, {
      details: { issues: issueDetails(parsed.error) },
    });
  }
  return parsed.data as z.output<Endpoints[K]["input"]>;
}
