/** How a settled attempt bears on the race. */
export type Verdict =
  /** An answer to take, or a failure no other attempt can change: the race ends with it. */
  | "final"
  /** A failure another attempt may still beat: wait for those in flight. */
  | "lose";

/** One race's limits. */
export interface HedgeLimits {
  /** Wait this long for an answer before launching the next attempt, ms. */
  readonly afterMs: number;
  /** Attempts launched beyond the first. */
  readonly max: number;
}

/**
 * Hedged attempts (gRPC's hedging policy, "The Tail at Scale"): launches attempt 0 at once, then
 * one more every `afterMs` while none has answered, up to `max` more, each only if `mayHedge()`
 * allows it (the retry budget). The first attempt whose result is `final` ends the race; the others
 * are aborted through their signal. When every attempt in flight has lost, the race ends with the
 * last loss (retrying it is the retry loop's decision). Rejects only when `launch` does.
 */
export function raceHedges<R>(
  limits: HedgeLimits,
  launch: (index: number, signal: AbortSignal) => Promise<R>,
  verdict: (result: R) => Verdict,
  mayHedge: () => boolean,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const controllers: AbortController[] = [];
    let pending = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;

    const finish = (result: R, winner: number): void => {
      done = true;
      clearTimeout(timer);
      controllers.forEach((c, i) => {
        if (i !== winner) c.abort();
      });
      resolve(result);
    };

    const next = (): void => {
      const index = controllers.length;
      const controller = new AbortController();
      controllers.push(controller);
      pending++;
      launch(index, controller.signal).then(
        (result) => {
          pending--;
          if (done) return;
          if (pending === 0 || verdict(result) === "final") finish(result, index);
        },
        (error: unknown) => {
          pending--;
          if (done) return;
          done = true;
          clearTimeout(timer);
          for (const c of controllers) c.abort();
          reject(error);
        },
      );
      schedule();
    };

    const schedule = (): void => {
      clearTimeout(timer);
      if (controllers.length > limits.max) return;
      timer = setTimeout(() => {
        if (!done && mayHedge()) next();
      }, limits.afterMs);
      timer.unref();
    };

    next();
  });
}
