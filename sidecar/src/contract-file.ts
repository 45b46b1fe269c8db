import { readFileSync } from "node:fs";
import { defineContract, MeshError } from "@switchyard/runtime";
import { type Contract, EndpointName, issueDetails, ServiceName } from "@switchyard/schemas";
import { z } from "zod";

const JsonSchema = z.record(z.string(), z.unknown());
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

/**
 * A sidecar's contract file: the service's name, version and endpoints, each with the JSON Schema
 * (draft 2020-12, as `z.toJSONSchema` and `npm run generate` write it) of its input and output.
 * `path` is where the app serves the endpoint (default `/<endpoint>`).
 */
export const ContractFile = z.strictObject({
  $schema: z.string().optional(),
  name: ServiceName,
  version: z.string(),
  description: z.string().optional(),
  endpoints: z.record(
    EndpointName,
    z.strictObject({
      description: z.string().optional(),
      input: JsonSchema,
      output: JsonSchema,
      idempotent: z.boolean().optional(),
      timeoutMs: z.number().int().positive().optional(),
      path: z.string().regex(PATH, "must be an absolute URL path such as /suggest").optional(),
    }),
  ),
});
export type ContractFileInput = z.input<typeof ContractFile>;

/** A contract read from a file: the runtime's contract, and the app's path for each endpoint. */
export interface LoadedContract {
  readonly contract: Contract;
  /** Endpoint name → the app's URL path. */
  readonly paths: ReadonlyMap<string, string>;
}

/** Reads and checks a contract file; `INVALID_ARGUMENT` naming the file and every problem. */
export function readContractFile(file: string): LoadedContract {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new MeshError("INVALID_ARGUMENT", `cannot read the contract file ${file}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new MeshError("INVALID_ARGUMENT", `the contract file ${file} is not JSON`, { cause });
  }
  return contractFromJson(json, file);
}

/**
 * The runtime contract a contract file describes. Each JSON Schema becomes a zod schema
 * (`z.fromJSONSchema`), so the runtime's server pipeline validates input before the app sees it
 * and the app's output before the caller does, exactly as for a TypeScript service.
 */
export function contractFromJson(json: unknown, source = "the contract"): LoadedContract {
  const parsed = ContractFile.safeParse(json);
  if (!parsed.success) {
    throw new MeshError("INVALID_ARGUMENT", `invalid ${source}: ${z.prettifyError(parsed.error)}`, {
      details: { issues: issueDetails(parsed.error) },
    });
  }
  const { name, version, description, endpoints } = parsed.data;
  const specs: Record<
    string,
    { input: z.ZodType; output: z.ZodType; idempotent?: boolean; timeoutMs?: number; description?: string }
  > = {};
  const paths = new Map<string, string>();
  for (const [endpoint, e] of Object.entries(endpoints)) {
    specs[endpoint] = {
      input: schemaOf(e.input, `${source}: ${endpoint}.input`),
      output: schemaOf(e.output, `${source}: ${endpoint}.output`),
      ...(e.idempotent === undefined ? {} : { idempotent: e.idempotent }),
      ...(e.timeoutMs === undefined ? {} : { timeoutMs: e.timeoutMs }),
      ...(e.description === undefined ? {} : { description: e.description }),
    };
    paths.set(endpoint, e.path ?? `/${endpoint}`);
  }
  const contract = defineContract({
    name,
    version,
    ...(description === undefined ? {} : { description }),
    endpoints: specs,
  });
  return { contract, paths };
}

function schemaOf(schema: Record<string, unknown>, where: string): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (cause) {
    throw new MeshError(
      "INVALID_ARGUMENT",
      `${where} is not a JSON Schema the sidecar can check: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/**
 * A TypeScript contract in the contract-file format (input schemas as callers send them), for a
 * service in another language that implements an existing contract.
 */
export function contractFileOf(contract: Contract): ContractFileInput {
  const endpoints: ContractFileInput["endpoints"] = {};
  for (const [name, spec] of Object.entries(contract.endpoints)) {
    endpoints[name] = {
      ...(spec.description === undefined ? {} : { description: spec.description }),
      input: z.toJSONSchema(spec.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
      output: z.toJSONSchema(spec.output, { io: "output", unrepresentable: "any" }) as Record<
        string,
        unknown
      >,
      ...(spec.idempotent === undefined ? {} : { idempotent: spec.idempotent }),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    };
  }
  return {
    name: contract.name,
    version: contract.version,
    ...(contract.description === undefined ? {} : { description: contract.description }),
    endpoints,
  };
}

/** The JSON Schema of the contract-file format (sidecar/contract-file.schema.json, for editors). */
export function contractFileSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ContractFile, { io: "input", unrepresentable: "any" }),
    $id: "https://switchyard.dev/schemas/sidecar-contract-file.schema.json",
  };
}
