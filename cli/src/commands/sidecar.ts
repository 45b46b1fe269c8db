import { checkSidecarOptions, readContractFile, SyncContextManager, startSidecar } from "@switchyard/sidecar";
import { startTelemetry } from "@switchyard/telemetry";
import { type CommandContext, flagInt, flagString } from "../context.js";

export const sidecarCommands = {
  sidecar: {
    run: async (ctx: CommandContext) => {
      // every flag read before anything starts: a usage error names them all at once
      const contractFile = flagString(ctx, "contract");
      const app = flagString(ctx, "app");
      const name = flagString(ctx, "name");
      const port = flagInt(ctx, "port", 0) ?? Number(process.env["SIDECAR_PORT"] ?? 3500);
      const healthPath = flagString(ctx, "health");
      const server = ctx.flags["server"];
      const servers = Array.isArray(server) ? server.flatMap((s) => s.split(",")) : undefined;
      const options = {
        ...(contractFile === undefined ? {} : { contractFile }),
        ...(app === undefined ? {} : { app }),
        ...(name === undefined ? {} : { name }),
        ...(healthPath === undefined ? {} : { healthPath }),
        port,
        mesh: servers === undefined ? {} : { servers },
      };
      // checked before telemetry starts: a bad command line starts nothing
      const checked = checkSidecarOptions(options);
      const serviceName = checked.name ?? readContractFile(checked.contractFile as string).contract.name;
      // spans and metrics as any service has them (OTEL_* and MESH_METRICS_PORT), with the
      // sidecar's context manager: the SDK's default would tax every async step of the process
      const telemetry = await startTelemetry({ serviceName, contextManager: new SyncContextManager() });
      try {
        const sidecar = await startSidecar(options);
        process.stderr.write(`switchyard: sidecar for ${sidecar.name} listening on ${sidecar.url}\n`);
        await new Promise<void>((resolve) => {
          process.once("SIGTERM", resolve);
          process.once("SIGINT", resolve);
        });
        await sidecar.close();
      } finally {
        await telemetry.shutdown();
      }
    },
  },
};
