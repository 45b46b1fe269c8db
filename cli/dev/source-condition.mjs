// A module-resolution hook (node:module register) adding the "@switchyard/source" export condition:
// what `--conditions=@switchyard/source` does, for a process started without that flag.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes("@switchyard/source")
    ? context.conditions
    : [...context.conditions, "@switchyard/source"];
  return nextResolve(specifier, { ...context, conditions });
}
