import { type CommandContext, flagInt, flagString, positional } from "../context.js";
import { CliError, ExitCode } from "../exit-codes.js";
import { print } from "../output.js";

export const callCommands = {
  call: {
    run: async (ctx: CommandContext) => {
      const service = positional(ctx, 0, "SERVICE");
      const endpoint = positional(ctx, 1, "ENDPOINT");
      let input: unknown;
      const text = ctx.args[2];
      if (text !== undefined) {
        try {
          input = JSON.parse(text);
        } catch {
          throw new CliError(ExitCode.Usage, "the input is not valid JSON");
        }
      }
      const tenant = flagString(ctx, "tenant");
      const timeoutMs = flagInt(ctx, "timeout", 1);
      const reply = await (await ctx.mesh()).call(service, endpoint, input, {
        ...(tenant === undefined ? {} : { tenant }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
      print(ctx.json, reply, () => JSON.stringify(reply, null, 2));
    },
  },
};
