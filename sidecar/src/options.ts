import type { MeshOptions } from "@switchyard/runtime";
import { MeshError } from "@switchyard/runtime";
import { issueDetails, ServiceName } from "@switchyard/schemas";
import { z } from "zod";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** An app URL on loopback: the sidecar never forwards a request off the machine. */
const AppUrl = z.string().refine((text) => {
  try {
    const url = new URL(text);
    return (
      url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname) && url.pathname === "/" && url.port !== ""
    );
  } catch {
    return false;
  }
}, "must be http://127.0.0.1:PORT (loopback, with a port, no path)");

// Every default of the sidecar, in one place.
export const SidecarOptions = z
  .strictObject({
    /**
     * The service this sidecar is on the mesh; default the contract's name. Required without a
     * contract (a sidecar that only calls out).
     */
    name: ServiceName.optional(),
    /** A contract file: the endpoints served on the mesh and forwarded to `app`. */
    contractFile: z.string().min(1).optional(),
    /** The app's HTTP server, on loopback: `http://127.0.0.1:PORT`. Required with a contract. */
    app: AppUrl.optional(),
    /** Port of the sidecar's HTTP API on 127.0.0.1; 0 picks a free one. */
    port: z.number().int().min(0).max(65_535).default(3500),
    /** The app's health route: `GET` answering 2xx while it can take requests. */
    healthPath: z
      .string()
      .regex(/^\/\S*$/, "must be a URL path such as /health")
      .default("/health"),
    /** How often the health route is asked. */
    healthIntervalMs: z.number().int().min(10).max(60_000).default(1_000),
    /** Longer than this without an answer is a failed check. */
    healthTimeoutMs: z.number().int().min(10).max(60_000).default(500),
    /** Failed checks in a row after which the app is unready (and the sidecar stops serving). */
    unhealthyAfter: z.number().int().min(1).max(100).default(2),
    /** Largest request body the API takes, in bytes (413 `PAYLOAD_TOO_LARGE` above it). */
    bodyLimitBytes: z
      .number()
      .int()
      .min(1_024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Options of the mesh connection (servers, credentials, logger...); `name` is the sidecar's. */
    mesh: z.custom<Omit<MeshOptions, "name">>((v) => typeof v === "object" && v !== null).default({}),
  })
  .refine((o) => o.contractFile === undefined || o.app !== undefined, {
    message: "a sidecar that serves a contract needs the app's URL (--app http://127.0.0.1:PORT)",
    path: ["app"],
  })
  .refine((o) => o.contractFile !== undefined || o.name !== undefined, {
    message: "a sidecar without a contract needs the service's name (--name)",
    path: ["name"],
  });

export type SidecarOptionsInput = z.input<typeof SidecarOptions>;
export type ResolvedSidecarOptions = Readonly<z.output<typeof SidecarOptions>>;

/** Validates and defaults the options once: `INVALID_ARGUMENT` listing every problem. */
export function parseSidecarOptions(input: SidecarOptionsInput): ResolvedSidecarOptions {
  const parsed = SidecarOptions.safeParse(input);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", `invalid sidecar options: ${z.prettifyError(parsed.error)}`, {
      details: { issues: issueDetails(parsed.error) },
    });
  }
  return Object.freeze(parsed.data);
}
