/** How the app's health is watched. */
export interface HealthWatchOptions {
  readonly intervalMs: number;
  /** Failed checks in a row that make the app unready. */
  readonly unhealthyAfter: number;
}

/**
 * Asks the app's health route every `intervalMs` and reports the verdict after every check: ready
 * after one good answer, unready after `unhealthyAfter` failed ones in a row. Reported each time,
 * not only on a change, so a step that failed (serving while NATS was away) is tried again.
 * `checkNow()` asks at once (a forwarded request found the app unreachable).
 */
export class HealthWatch {
  readonly #check: () => Promise<boolean>;
  readonly #options: HealthWatchOptions;
  readonly #onVerdict: (ready: boolean) => void;
  #ready = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    check: () => Promise<boolean>,
    options: HealthWatchOptions,
    onVerdict: (ready: boolean) => void,
  ) {
    this.#check = check;
    this.#options = options;
    this.#onVerdict = onVerdict;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Checks once now, then every `intervalMs`. */
  start(): Promise<void> {
    return this.checkNow();
  }

  /** A check now (one at a time: a check already running is the one awaited). */
  checkNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #round(): Promise<void> {
    clearTimeout(this.#timer);
    const healthy = await this.#check();
    if (this.#stopped) return;
    if (healthy) this.#failures = 0;
    else this.#failures++;
    this.#ready = healthy || (this.#ready && this.#failures < this.#options.unhealthyAfter);
    this.#onVerdict(this.#ready);
    this.#timer = setTimeout(() => void this.checkNow(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
