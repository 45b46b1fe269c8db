import { monotonicNow } from "../resilience/clock.js";

interface Window {
  readonly endsAt: number;
  suppressed: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Rate-limits repeated log lines: of the lines sharing a key, the first in each window is written
 * and the rest are only counted; when the window ends, one line says how many there were
 * ("…and 523 more like it in the last second"). Under overload a shed costs a counter increment,
 * not a line. Keys are few (service, endpoint, code), so the map stays small.
 */
export class RepeatedLines {
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(windowMs = 1_000) {
    this.#windowMs = windowMs;
  }

  /**
   * True when the line keyed `key` should be written now; otherwise it is counted, and `summary`
   * is called once with the count when the window ends.
   */
  admit(key: string, summary: (suppressed: number, windowMs: number) => void): boolean {
    const now = monotonicNow();
    const open = this.#windows.get(key);
    // a window with lines counted stays until its summary is written
    if (open !== undefined && (now < open.endsAt || open.timer !== undefined)) {
      this.#count(open, key, summary);
      return false;
    }
    this.#windows.set(key, { endsAt: now + this.#windowMs, suppressed: 0, timer: undefined });
    return true;
  }

  #count(open: Window, key: string, summary: (suppressed: number, windowMs: number) => void): void {
    open.suppressed++;
    if (open.timer === undefined) {
      open.timer = setTimeout(
        () => {
          this.#windows.delete(key);
          summary(open.suppressed, this.#windowMs);
        },
        Math.max(0, open.endsAt - monotonicNow()),
      );
      // a pending summary must not keep a process alive
      open.timer.unref();
    }
  }
}
