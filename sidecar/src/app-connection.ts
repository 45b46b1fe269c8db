import { connect, type Socket } from "node:net";
import { MeshError } from "@switchyard/runtime";
import type { AppAnswer } from "./app-reply.js";
import { type BodyReader, ChunkedBody, type ChunkedSide, LengthBody } from "./body-readers.js";

// an app answer larger than this is not read: the mesh would not carry it anyway
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
// idle connections kept for the next exchanges; more are closed when they come back
const MAX_IDLE = 256;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");
// what node:http refuses in a header value (it would split the request)
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** One request to the app; `body` is JSON text, sent as UTF-8. */
export interface AppRequest {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * Exchanges with the app over kept-alive HTTP/1.1 connections of its own, one exchange at a time
 * on each.
 *
 * Why not `node:http`: an exchange through its `ClientRequest` and agent cost the callee's
 * sidecar ~100 µs of CPU on this machine, on the path of every sequential call; this client
 * writes each request in one write and reads the few things the sidecar needs of the answer
 * (status, `Retry-After`, `Mesh-Retry-After`, the body framed by `Content-Length`, chunked or by
 * the end of the connection), ~35 µs. It speaks to one loopback app, which the sidecar runs
 * beside, not to the web: no proxies, TLS, redirects or pipelining.
 */
export class AppConnections {
  readonly #host: string;
  readonly #port: number;
  /** The `Host` header and the start of every request's head after the request line. */
  readonly #hostLine: string;
  readonly #idle: AppConnection[] = [];
  readonly #all = new Set<AppConnection>();

  constructor(url: URL) {
    // a URL's IPv6 host is bracketed; a socket takes it bare
    this.#host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    this.#port = Number(url.port || 80);
    this.#hostLine = ` HTTP/1.1\r\nhost: ${url.host}\r\n`;
  }

  /**
   * Sends `request`, resolves with the answer. Rejects with the reason of `signal` when it aborts,
   * with an `INTERNAL` `MeshError` for an answer that cannot be read as HTTP or is too large, and
   * with `AppUnreachable` when the app cannot be reached or closes the connection first.
   */
  exchange(request: AppRequest, signal: AbortSignal): Promise<AppAnswer> {
    const head = this.#head(request);
    let connection = this.#idle.pop();
    while (connection !== undefined && !connection.reusable()) {
      connection.destroy();
      connection = this.#idle.pop();
    }
    connection ??= this.#connect();
    return connection.exchange(head, request.body, signal);
  }

  /** Closes every connection (an exchange in flight fails). */
  close(): void {
    for (const connection of this.#all) connection.destroy();
    this.#all.clear();
    this.#idle.length = 0;
  }

  #head(request: AppRequest): string {
    let head = `${request.method} ${request.path}${this.#hostLine}`;
    for (const name in request.headers) {
      const value = request.headers[name] as string;
      if (INVALID_HEADER_VALUE.test(value)) {
        throw new MeshError(
          "INTERNAL",
          `the ${name} header to the app holds a character HTTP does not allow`,
        );
      }
      head += `${name}: ${value}\r\n`;
    }
    if (request.body !== undefined) {
      head += `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(request.body)}\r\n`;
    }
    return `${head}\r\n`;
  }

  #connect(): AppConnection {
    const connection = new AppConnection(
      connect({ host: this.#host, port: this.#port, noDelay: true }),
      (done) => this.#release(done),
    );
    this.#all.add(connection);
    return connection;
  }

  /** An exchange ended, or an idle connection closed: keep it for the next exchange, or forget it. */
  #release(connection: AppConnection): void {
    if (connection.open && this.#idle.length < MAX_IDLE && this.#all.has(connection)) {
      this.#idle.push(connection);
      return;
    }
    connection.destroy();
    this.#all.delete(connection);
    const idle = this.#idle.indexOf(connection);
    if (idle >= 0) this.#idle.splice(idle, 1);
  }
}

/** The exchange under way on a connection. */
interface Exchange {
  resolve(answer: AppAnswer): void;
  reject(error: Error): void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/** Where the answer's reader stands. */
enum Read {
  Head,
  Body,
  UntilClose,
}

class AppConnection {
  readonly #socket: Socket;
  readonly #release: (connection: AppConnection) => void;
  #exchange: Exchange | undefined;
  #closed = false;
  // the answer being read
  #pending: Buffer | undefined;
  #read = Read.Head;
  #status = 0;
  #keepAlive = true;
  /** How long the app keeps this connection idle (its `Keep-Alive: timeout`), less a second. */
  #idleMs: number | undefined;
  /** Past this (`performance.now()`), the app may be closing it: not reused. */
  #idleUntil = Number.POSITIVE_INFINITY;
  #retryAfter: string | undefined;
  #meshRetryAfter: string | undefined;
  #chunks: Buffer[] = [];
  #size = 0;
  /** The answer's body being read, as it is framed (unless it ends with the connection). */
  #bodyReader: BodyReader | undefined;
  /** This connection's bounds and errors, for its answers' bodies (a length-framed one takes only `data`). */
  readonly #bodySide: ChunkedSide = {
    line: (buffer) => {
      const end = buffer.indexOf(CRLF);
      return end < 0 ? this.#waitForLine(buffer) : end;
    },
    // the answer's bound is checked as its data arrives
    size: () => {},
    data: (part) => this.#body(part),
    malformed: (what) => this.#malformed(what),
  };

  constructor(socket: Socket, release: (connection: AppConnection) => void) {
    this.#socket = socket;
    this.#release = release;
    socket.on("data", (data: Buffer) => this.#onData(data));
    socket.on("error", (error: Error) => this.#onClose(error));
    socket.on("close", () => this.#onClose(undefined));
    // an idle connection does not keep the process alive
    socket.unref();
  }

  get open(): boolean {
    return !this.#closed;
  }

  /**
   * Open, and not idle past the app's `Keep-Alive: timeout`: a request written as the app closes
   * the connection would be lost (node:http's agent drops such a connection a second early too).
   */
  reusable(): boolean {
    return !this.#closed && performance.now() < this.#idleUntil;
  }

  exchange(head: string, body: string | undefined, signal: AbortSignal): Promise<AppAnswer> {
    return new Promise<AppAnswer>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        this.#release(this);
        return;
      }
      const onAbort = () => this.#fail(signal.reason);
      this.#exchange = { resolve, reject, signal, onAbort };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#socket.ref();
      // one write: nothing of the request waits for an acknowledgement of its first part
      this.#socket.write(body === undefined ? head : head + body);
    });
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  #onData(data: Buffer): void {
    if (this.#exchange === undefined) {
      // an answer to no request: the connection cannot be trusted with the next one
      this.destroy();
      return;
    }
    let buffer = this.#pending === undefined ? data : Buffer.concat([this.#pending, data]);
    this.#pending = undefined;
    try {
      for (;;) {
        const at = this.#step(buffer);
        if (at < 0) {
          // the rest of a head or a chunk-size line is still to come
          this.#pending = buffer;
          return;
        }
        if (at >= buffer.length) return;
        if (this.#exchange === undefined) {
          // bytes after the answer: the connection cannot be trusted with the next one
          this.destroy();
          return;
        }
        buffer = buffer.subarray(at);
      }
    } catch (error) {
      this.#fail(error as MeshError);
    }
  }

  /** Reads what it can of `buffer`: where the next step starts, or -1 to wait for more bytes. */
  #step(buffer: Buffer): number {
    switch (this.#read) {
      case Read.Head:
        return this.#readHead(buffer);
      case Read.Body: {
        const body = this.#bodyReader as BodyReader;
        const at = body.read(buffer);
        if (body.done) this.#complete();
        return at;
      }
      case Read.UntilClose:
        this.#body(buffer);
        return buffer.length;
    }
  }

  #readHead(buffer: Buffer): number {
    const end = buffer.indexOf(HEAD_END);
    if (end < 0) return this.#waitForLine(buffer);
    const lines = buffer.toString("latin1", 0, end).split("\r\n");
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] as string);
    if (statusLine === null) throw this.#malformed("a status line that is not HTTP/1.x");
    const status = Number(statusLine[2]);
    // an interim answer (100 Continue, 103 Early Hints) precedes the real one
    if (status < 200) return end + 4;
    let keepAlive = statusLine[1] === "1";
    let length: number | undefined;
    let chunked = false;
    this.#retryAfter = undefined;
    this.#meshRetryAfter = undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      if (colon <= 0) throw this.#malformed("a header line without a name");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") {
        length = Number(value);
        if (!Number.isSafeInteger(length) || length < 0)
          throw this.#malformed("a Content-Length that is not a size");
      } else if (name === "transfer-encoding") chunked = /(^|,)\s*chunked\s*$/i.test(value);
      else if (name === "connection") {
        // HTTP/1.1 keeps the connection unless told "close"; HTTP/1.0 closes it unless told "keep-alive"
        if (keepAlive) keepAlive = !hasToken(value, "close");
        else keepAlive = hasToken(value, "keep-alive");
      } else if (name === "retry-after") this.#retryAfter ??= value;
      else if (name === "mesh-retry-after") this.#meshRetryAfter ??= value;
      else if (name === "keep-alive") {
        const timeout = /(?:^|[,;\s])timeout=(\d+)/i.exec(value);
        if (timeout !== null) this.#idleMs = Math.max(0, Number(timeout[1]) - 1) * 1_000;
      }
    }
    this.#status = status;
    this.#keepAlive = keepAlive;
    this.#chunks = [];
    this.#size = 0;
    if (status === 204 || status === 304) this.#complete();
    else if (chunked || length !== undefined) {
      const body = chunked
        ? new ChunkedBody(this.#bodySide)
        : new LengthBody(length as number, this.#bodySide.data);
      this.#bodyReader = body;
      this.#read = Read.Body;
      if (body.done) this.#complete();
    } else {
      // no length: the answer ends with the connection
      this.#keepAlive = false;
      this.#read = Read.UntilClose;
    }
    return end + 4;
  }

  #waitForLine(buffer: Buffer): number {
    if (buffer.length > 64 * 1024) throw this.#malformed("a head or chunk-size line over 64 KiB");
    return -1;
  }

  #body(part: Buffer): void {
    this.#size += part.length;
    if (this.#size > MAX_ANSWER_BYTES) {
      throw new MeshError("INTERNAL", `the app's answer exceeds ${MAX_ANSWER_BYTES} bytes`);
    }
    if (part.length > 0) this.#chunks.push(part);
  }

  #complete(): void {
    const exchange = this.#exchange as Exchange;
    this.#exchange = undefined;
    this.#read = Read.Head;
    exchange.signal.removeEventListener("abort", exchange.onAbort);
    const chunks = this.#chunks;
    const body =
      chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8");
    this.#chunks = [];
    const answer: AppAnswer = {
      status: this.#status,
      body,
      retryAfter: this.#retryAfter,
      meshRetryAfter: this.#meshRetryAfter,
    };
    if (!this.#keepAlive) this.destroy();
    else {
      this.#socket.unref();
      if (this.#idleMs !== undefined) this.#idleUntil = performance.now() + this.#idleMs;
    }
    this.#release(this);
    exchange.resolve(answer);
  }

  #onClose(error: Error | undefined): void {
    this.#closed = true;
    if (this.#exchange === undefined) {
      this.#release(this);
      return;
    }
    if (error === undefined && this.#read === Read.UntilClose) {
      this.#complete();
      return;
    }
    this.#fail(new AppUnreachable(error ?? new Error("the app closed the connection before it answered")));
  }

  /** The exchange fails and the connection with it: what is left of the answer cannot be read. */
  #fail(error: Error): void {
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.destroy();
    this.#release(this);
    if (exchange === undefined) return;
    exchange.signal.removeEventListener("abort", exchange.onAbort);
    exchange.reject(error);
  }

  #malformed(what: string): MeshError {
    return new MeshError("INTERNAL", `the app answered with ${what}`);
  }
}

/** The app could not be reached, or closed the connection before it answered. */
export class AppUnreachable extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = "AppUnreachable";
  }
}

function hasToken(list: string, token: string): boolean {
  return list
    .toLowerCase()
    .split(",")
    .some((item) => item.trim() === token);
}
