import { Agent, request } from "node:http";
import { isMeshError, MeshError } from "@switchyard/runtime";
import { type AppAnswer, meshReplyOf } from "./app-reply.js";

// an app answer larger than this is not read: the mesh would not carry it anyway
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** The app's HTTP server, on loopback, over kept-alive connections. */
export class AppClient {
  readonly #url: URL;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1_024, maxFreeSockets: 256 });
  /** Hears every failure to reach the app (the health watch checks at once). */
  readonly #onUnreachable: () => void;

  constructor(url: string, onUnreachable: () => void) {
    this.#url = new URL(url);
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
    const answer = await this.#exchange(
      "POST",
      path,
      body,
      { ...headers, "content-type": "application/json" },
      signal,
    );
    return meshReplyOf(answer, what);
  }

  /** True when `GET path` answers 2xx within `timeoutMs`. */
  async healthy(path: string, timeoutMs: number): Promise<boolean> {
    try {
      const answer = await this.#exchange("GET", path, undefined, {}, AbortSignal.timeout(timeoutMs));
      return answer.status >= 200 && answer.status < 300;
    } catch {
      return false;
    }
  }

  #exchange(
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AppAnswer> {
    return new Promise<AppAnswer>((resolve, reject) => {
      if (signal.aborted) {
        reject(reasonOf(signal));
        return;
      }
      const req = request(
        {
          protocol: this.#url.protocol,
          hostname: this.#url.hostname,
          port: this.#url.port,
          path,
          method,
          agent: this.#agent,
          headers:
            body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              req.destroy(new MeshError("INTERNAL", `the app's answer exceeds ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on("end", () => {
            signal.removeEventListener("abort", onAbort);
            resolve({
              status: res.statusCode ?? 500,
              body: Buffer.concat(chunks).toString("utf8"),
              retryAfter: header(res.headers["retry-after"]),
              meshRetryAfter: header(res.headers["mesh-retry-after"]),
            });
          });
          res.on("error", fail);
        },
      );
      const onAbort = () => req.destroy(reasonOf(signal));
      function fail(error: Error) {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      }
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("error", (error: Error) => {
        if (isMeshError(error)) {
          fail(error);
          return;
        }
        this.#onUnreachable();
        fail(
          new MeshError(
            "UNAVAILABLE",
            `the app at ${this.#url.origin} did not answer ${method} ${path}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
      });
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function reasonOf(signal: AbortSignal): Error {
  return isMeshError(signal.reason)
    ? signal.reason
    : new MeshError("CANCELLED", "the request to the app was aborted", { cause: signal.reason });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
