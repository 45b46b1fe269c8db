/** How the app's health is watched. */
export interface HealthWatchOptions {
  readonly intervalMs: number;
  /** Failed checks in a row that make the app unready. */
  readonly unhealthyAfter: number;
}

/**
 * Asks the app's health route every `intervalMs` and reports each change: ready after one good
 * answer, unready after `unhealthyAfter` failed ones in a row. `checkNow()` asks at once (a
 * forwarded request found the app unreachable), so a dead app is noticed within one round trip.
 */
export class HealthWatch {
  readonly #check: () => Promise<boolean>;
  readonly #options: HealthWatchOptions;
  readonly #onChange: (ready: boolean) => void;
  #ready = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(
    check: () => Promise<boolean>,
    options: HealthWatchOptions,
    onChange: (ready: boolean) => void,
  ) {
    this.#check = check;
    this.#options = options;
    this.#onChange = onChange;
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
    const ready = healthy || (this.#ready && this.#failures < this.#options.unhealthyAfter);
    if (ready !== this.#ready) {
      this.#ready = ready;
      this.#onChange(ready);
    }
    this.#timer = setTimeout(() => void this.checkNow(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
