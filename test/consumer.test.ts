// Issue 17: the packages work outside this repository: packed with `npm pack`, installed with
// `npm install <tarballs>` into a project in the OS's temporary folder, run with plain node (no
// tsx, no TypeScript), and type-checked by tsc against the installed declarations.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { eventually } from "./fixtures/eventually.js";
import { consumerEnv, installConsumer, PUBLISHED } from "./fixtures/installed-packages.js";
import { suiteNats } from "./fixtures/nats-server.js";
import { ServerProcess, suiteScope } from "./fixtures/processes.js";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

// what a user writes: a contract, a service serving it, a caller
const CONTRACT = `import { defineContract } from "@switchyard/runtime";
import { z } from "zod";
export const greeter = defineContract({
  name: "consumer-greeter",
  version: "1.0.0",
  endpoints: {
    hello: { input: z.object({ name: z.string().min(1) }), output: z.object({ greeting: z.string() }) },
  },
});
`;
const SERVICE = `import { connectMesh, drainOnSignals } from "@switchyard/runtime";
import { greeter } from "./contract.js";
const mesh = await connectMesh({ name: "consumer-greeter", logLevel: "warn", policy: { follow: false } });
drainOnSignals(mesh);
await mesh.serve(greeter, { hello: async ({ name }) => ({ greeting: \`hello, \${name}\` }) });
process.stdout.write("serving\\n");
`;
const CALLER = `import { connectMesh, isMeshError } from "@switchyard/runtime";
import { greeter } from "./contract.js";
const mesh = await connectMesh({ name: "consumer-caller", logLevel: "warn", policy: { follow: false } });
try {
  const reply = await mesh.client(greeter).hello({ name: "consumer" }, { timeoutMs: 5000 });
  const refused = await mesh.client(greeter).hello({ name: "" }).catch((e) => (isMeshError(e) ? e.code : String(e)));
  process.stdout.write(JSON.stringify({ reply, refused }));
} finally {
  await mesh.close();
}
`;

describe("the packages, installed outside the repository", () => {
  const scope = suiteScope();
  const nats = suiteNats();
  let project = "";
  before(async () => {
    // zod for the user's contract, @types/node for their tsc: what a real project adds itself
    project = await installConsumer(scope, ["zod@^4.1.0", "@types/node@^20"]);
  });

  it("ship what a user needs: dist, README, LICENSE (this repository's), package.json", async () => {
    const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
    for (const name of PUBLISHED) {
      const folder = join(project, "node_modules", name);
      const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { license?: string };
      assert.equal(manifest.license, "Apache-2.0", `${name} names its licence`);
      assert.equal(readFileSync(join(folder, "LICENSE"), "utf8"), license, `${name} ships the root LICENSE`);
    }
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "-w", "@switchyard/runtime"], {
      cwd: ROOT,
      env: consumerEnv(),
    });
    const [packed] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
    const strays = (packed?.files ?? [])
      .map((f) => f.path)
      .filter((p) => !/^(dist\/.+|README\.md|LICENSE|package\.json)$/.test(p));
    assert.deepEqual(
      strays,
      [],
      "@switchyard/runtime's tarball holds only dist/, README.md, LICENSE, package.json",
    );
    assert.ok(!(packed?.files ?? []).some((f) => /\.test\.|\.ts$/.test(f.path.replace(/\.d\.ts$/, ""))));
  });

  it("serve, call and inspect with plain node and the installed switchyard CLI", async () => {
    for (const [file, text] of [
      ["contract.js", CONTRACT],
      ["service.js", SERVICE],
      ["caller.js", CALLER],
    ] as const)
      writeFileSync(join(project, file), text);
    const env = consumerEnv({ NATS_URL: nats.url });
    const service = new ServerProcess(process.execPath, [join(project, "service.js")], env);
    scope.after(() => service.stop());
    service.start();
    await eventually(() => assert.match(service.output, /serving/, service.output), 30_000, 50);

    const called = await run(process.execPath, [join(project, "caller.js")], { cwd: project, env });
    assert.deepEqual(JSON.parse(called.stdout), {
      reply: { greeting: "hello, consumer" },
      refused: "INVALID_ARGUMENT",
    });

    const switchyard = join(project, "node_modules/.bin/switchyard");
    const ls = await run(switchyard, ["services", "ls", "consumer-greeter", "--json"], { cwd: project, env });
    const instances = JSON.parse(ls.stdout) as Array<{ name: string }>;
    assert.deepEqual(
      instances.map((i) => i.name),
      ["consumer-greeter"],
    );
    const call = await run(switchyard, ["call", "consumer-greeter", "hello", '{"name":"cli"}', "--json"], {
      cwd: project,
      env,
    });
    assert.deepEqual(JSON.parse(call.stdout), { greeting: "hello, cli" });
    const help = await run(switchyard, ["--help"], { cwd: project, env });
    assert.match(help.stdout, /switchyard services ls/);
  });

  it("type-checks a TypeScript service against the installed declarations, and catches its type errors", async () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          types: ["node"],
          skipLibCheck: true,
        },
        include: ["src"],
      }),
    );
    const src = join(project, "src");
    mkdirSync(src);
    writeFileSync(join(src, "contract.ts"), CONTRACT);
    const typed = `import { connectMesh, isMeshError, MeshError, type Mesh } from "@switchyard/runtime";
import { startTelemetry } from "@switchyard/telemetry";
import { greeter } from "./contract.js";
const telemetry = await startTelemetry({ serviceName: "consumer-greeter", metricsPort: false });
const mesh: Mesh = await connectMesh({ name: "consumer-greeter" });
await mesh.serve(greeter, {
  hello: async ({ name }, ctx) => {
    if (name === "nobody") throw new MeshError("NOT_FOUND", "no such name");
    ctx.log.info({ name }, "greeting");
    return { greeting: \`hello, \${name}\` };
  },
});
const reply: { greeting: string } = await mesh.client(greeter).hello({ name: "x" }, { timeoutMs: 100 });
const code: string | undefined = isMeshError(reply) ? reply.code : undefined;
void code;
await telemetry.shutdown();
`;
    writeFileSync(join(src, "service.ts"), typed);
    await run(process.execPath, [TSC, "-p", project], { cwd: project, env: consumerEnv() }).catch(
      (e: { stdout?: string }) => assert.fail(`tsc refused the consumer's service:\n${e.stdout}`),
    );
    // the declarations are real types, not any: a wrong input and a wrong handler are errors
    writeFileSync(
      join(src, "wrong.ts"),
      `import { connectMesh } from "@switchyard/runtime";
import { greeter } from "./contract.js";
const mesh = await connectMesh({ name: "wrong" });
await mesh.client(greeter).hello({ name: 42 });
await mesh.serve(greeter, { hello: async () => ({ greeting: 1 }) });
`,
    );
    const failed = await run(process.execPath, [TSC, "-p", project], {
      cwd: project,
      env: consumerEnv(),
    }).then(
      () => "",
      (e: { stdout?: string }) => e.stdout ?? "",
    );
    const errors = failed.split("\n").filter((l) => l.startsWith("src/wrong.ts"));
    assert.equal(errors.length, 2, `two type errors in src/wrong.ts, got:\n${failed}`);
  });
});
