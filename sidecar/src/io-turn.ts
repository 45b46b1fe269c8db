/**
 * The end of the current event-loop turn: resolves in its check phase (`setImmediate`), once for
 * everyone who asked during the turn.
 *
 * Why: nats.js writes everything published in one run of JavaScript and its microtasks as one
 * socket write. A TypeScript service's calls start from a message or a timer, many per run; a
 * sidecar's start from HTTP requests and app answers, each in an I/O callback of its own, so each
 * call out and each reply would be a write of its own to the broker, and a wake-up of it: at 64
 * in flight, the broker's and both sidecars' CPU per call went mostly to that. Starting the
 * turn's calls (and sending its replies) together after the I/O phase makes them one write.
 */
let turn: Promise<void> | undefined;

export function endOfTurn(): Promise<void> {
  turn ??= new Promise<void>((resolve) => {
    setImmediate(() => {
      turn = undefined;
      resolve();
    });
  });
  return turn;
}
