/** `loops` loops side by side, each running `body` again and again until `ms` have passed. */
export async function loopFor(loops: number, ms: number, body: () => Promise<void>): Promise<void> {
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < until) await body();
    }),
  );
}
