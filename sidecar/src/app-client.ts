import { isMeshError, MeshError } from "@switchyard/runtime";
import { AppConnections, type AppRequest, AppUnreachable } from "./app-connection.js";
import { type AppAnswer, meshReplyOf } from "./app-reply.js";

/** The app's HTTP server, on loopback, over kept-alive connections. */
export class AppClient {
  readonly #url: URL;
  readonly #connections: AppConnections;
  /** Hears every failure to reach the app (the health watch checks at once). */
  readonly #onUnreachable: () => void;

  constructor(url: string, onUnreachable: () => void) {
    this.#url = new URL(url);
    this.#connections = new AppConnections(this.#url);
    this.#onUnreachable = onUnreachable;
  }

  get url(): string {
    return this.#url.origin;
  }

  /**
   * POSTs `input` as JSON to `path` with `headers`; resolves with the output the app answered or
   * throws its error as a `MeshError` (see `meshReplyOf`). An app that cannot be reached is
   * `UNAVAILABLE`; `signal` aborting (the deadline, a cancel) ends the request with its reason.
   */
  async post(
    path: string,
    input: unknown,
    headers: Record<string, string>,
    signal: AbortSignal,
    what: string,
  ): Promise<unknown> {
    const body = JSON.stringify(input ?? null);
    const answer = await this.#exchange({ method: "POST", path, headers, body }, signal);
    return meshReplyOf(answer, what);
  }

  /** True when `GET path` answers 2xx within `timeoutMs`. */
  async healthy(path: string, timeoutMs: number): Promise<boolean> {
    try {
      const answer = await this.#exchange(
        { method: "GET", path, headers: {} },
        AbortSignal.timeout(timeoutMs),
      );
      return answer.status >= 200 && answer.status < 300;
    } catch {
      return false;
    }
  }

  async #exchange(request: AppRequest, signal: AbortSignal): Promise<AppAnswer> {
    try {
      return await this.#connections.exchange(request, signal);
    } catch (error) {
      if (signal.aborted && error === signal.reason) throw reasonOf(signal);
      if (!(error instanceof AppUnreachable)) throw error;
      this.#onUnreachable();
      throw new MeshError(
        "UNAVAILABLE",
        `the app at ${this.#url.origin} did not answer ${request.method} ${request.path}: ${error.message}`,
        { cause: error.cause },
      );
    }
  }

  close(): void {
    this.#connections.close();
  }
}

function reasonOf(signal: AbortSignal): Error {
  return isMeshError(signal.reason)
    ? signal.reason
    : new MeshError("CANCELLED", "the request to the app was aborted", { cause: signal.reason });
}
