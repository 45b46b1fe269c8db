import { createServer, type Server, type Socket } from "node:net";
import { type BodyReader, ChunkedBody, type ChunkedSide, LengthBody } from "./body-readers.js";

/** A request as the API's routes see it: header names lower-case, the body whole. */
export interface ApiRequest {
  readonly method: string;
  /** The request target's path, still percent-encoded; the query is cut off. */
  readonly path: string;
  /** Each header as given; a name given more than once holds every value, in order. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
}

/** An answer: always a JSON body. */
export interface ApiAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON text. */
  readonly body: string;
}

/** Answers a request; a throw is answered through `onError`. */
export type ApiHandler = (request: ApiRequest) => ApiAnswer | Promise<ApiAnswer>;

/** A request the server refused before any route saw it (a 4xx, and the connection closes). */
export interface Refusal {
  readonly status: 400 | 413 | 417 | 431 | 501 | 505;
  readonly message: string;
}

export interface ApiServerLimits {
  /** Largest request body, in bytes (413 above it). */
  readonly bodyLimitBytes: number;
  /** Largest request head (request line and headers), in bytes (431 above it). Default 16 KiB. */
  readonly maxHeadBytes?: number;
  /** Most header lines in one request (431 above it). Default 100. */
  readonly maxHeaders?: number;
  /**
   * How long a request may take to arrive whole, head and body, from its first byte (a client
   * that sends a few bytes now and then does not hold a connection past it). Default 30 s.
   */
  readonly requestTimeoutMs?: number;
  /** How long a kept-alive connection may wait idle for its next request. Default 72 s. */
  readonly keepAliveTimeoutMs?: number;
}

export interface ApiServerOptions extends ApiServerLimits {
  readonly port: number;
  readonly host: string;
  readonly handle: ApiHandler;
  /** The answer to a refused request, or to a handler's throw. */
  readonly onError: (error: unknown) => ApiAnswer;
  /** Refusals are turned into answers by the caller's conventions (status, JSON error body). */
  readonly refusal: (refusal: Refusal) => ApiAnswer;
}

export interface ApiServer {
  readonly port: number;
  readonly address: string;
  /**
   * Stops listening; requests in flight are answered (with `Connection: close`), idle
   * connections and those partway through a request's head are cut; resolves once every
   * connection is closed.
   */
  close(): Promise<void>;
}

const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;
const DEFAULT_MAX_HEADERS = 100;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000;
const HEAD_END = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";
// RFC 9110 token characters (methods, header names)
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// origin-form: a path and an optional query, visible ASCII only
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
// a header value: visible characters, spaces and tabs (no CR, LF or NUL: they would split it)
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Payload Too Large",
  417: "Expectation Failed",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * The sidecar's HTTP/1.1 API server, on `net`.
 *
 * Why not `node:http` (and Fastify on it): on the path of every call the app makes, its server
 * cost ~50 µs of CPU per request run cold beside a mesh, several times this server's; the API is
 * two routes with JSON bodies on loopback, which this server reads strictly: the request line
 * and headers (bounded in size and count, no obsolete line folding, no whitespace before a
 * colon), bodies framed by `Content-Length` or chunked (both at once is refused: request
 * smuggling), `Expect: 100-continue`, keep-alive (HTTP/1.1's default, HTTP/1.0's on request),
 * pipelined requests answered one at a time in order. A request it refuses is answered and its
 * connection closed: what follows it on the connection cannot be framed.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const connections = new Set<ApiConnection>();
  let closing = false;
  const server: Server = createServer({ noDelay: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const connection = new ApiConnection(socket, options, () => closing);
    connections.add(connection);
    socket.once("close", () => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as { address: string; port: number };
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    address: address.address,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        for (const connection of connections) connection.closeWhenIdle();
      });
      return closed;
    },
  };
}

/** Where a connection's reader stands. */
enum Read {
  Head,
  Body,
  /** A request is being answered: the next one waits (pipelining, in order). */
  Answering,
  /** Refused or ending: nothing more is read. */
  Done,
}

class ApiConnection {
  readonly #socket: Socket;
  readonly #options: ApiServerOptions;
  readonly #closing: () => boolean;
  readonly #maxHead: number;
  readonly #maxHeaders: number;
  #read = Read.Head;
  #buffer: Buffer | undefined;
  /** Bytes of the current request's head, trailers included, so far. */
  #headBytes = 0;
  // the request being read
  #method = "";
  #path = "";
  #headers: Record<string, string | string[]> = {};
  #keepAlive = true;
  #http10 = false;
  #chunks: Buffer[] = [];
  #size = 0;
  /** The body being read, as it is framed. */
  #bodyReader: BodyReader | undefined;
  /** This connection's bounds and errors, for its bodies (a length-framed one takes only `data`). */
  readonly #bodySide: ChunkedSide = {
    line: (buffer) => this.#line(buffer),
    size: (bytes) => {
      if (this.#size + bytes > this.#options.bodyLimitBytes) throw this.#tooLarge();
    },
    data: (part) => this.#body(part),
    malformed: (what) => refused(400, what),
  };
  #timer: NodeJS.Timeout | undefined;
  /** `#timer` bounds the request being read (not the wait for the next one). */
  #timerIsRequest = false;

  constructor(socket: Socket, options: ApiServerOptions, closing: () => boolean) {
    this.#socket = socket;
    this.#options = options;
    this.#closing = closing;
    this.#maxHead = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.#maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS;
    socket.on("data", (data: Buffer) => this.#onData(data));
    // a reset by the client ends the connection; nothing to answer
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#clearTimer());
    this.#waitIdle();
  }

  /** The server closes: cut the connection now unless a request is being answered. */
  closeWhenIdle(): void {
    if (this.#read !== Read.Answering) this.#socket.destroy();
    else this.#keepAlive = false;
  }

  #onData(data: Buffer): void {
    if (this.#read === Read.Done) return;
    const buffer = this.#buffer === undefined ? data : Buffer.concat([this.#buffer, data]);
    this.#buffer = undefined;
    if (this.#read === Read.Answering) {
      this.#keep(buffer);
      return;
    }
    this.#parse(buffer);
  }

  /** Bytes of the next pipelined request, kept until this one is answered; bounded. */
  #keep(buffer: Buffer): void {
    this.#buffer = buffer;
    // a client that pipelines more than one whole request's worth waits for the answers
    if (buffer.length > this.#maxHead + this.#options.bodyLimitBytes) this.#socket.pause();
  }

  #parse(input: Buffer): void {
    let buffer = input;
    for (;;) {
      let at: number;
      try {
        at = this.#step(buffer);
      } catch (error) {
        if (error instanceof RefusedRequest) {
          this.#refuse(error.refusal);
          return;
        }
        throw error;
      }
      if (at < 0) {
        this.#buffer = buffer;
        return;
      }
      buffer = buffer.subarray(at);
      if (this.#read === Read.Answering || this.#read === Read.Done) {
        if (buffer.length > 0) this.#keep(buffer);
        return;
      }
      if (buffer.length === 0) return;
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
        if (body.done) this.#dispatch();
        return at;
      }
      default:
        return buffer.length;
    }
  }

  /** The end of a CRLF-ended line in `buffer` (a chunk size or a trailer), counted in the head's bound. */
  #line(buffer: Buffer): number {
    const end = buffer.indexOf(CRLF);
    const length = end < 0 ? buffer.length : end + 2;
    if (this.#headBytes + length > this.#maxHead)
      throw refused(431, "the request's head or trailers are too large");
    if (end >= 0) this.#headBytes += length;
    return end;
  }

  #readHead(buffer: Buffer): number {
    // blank lines before a request line are ignored (RFC 9112 §2.2)
    let start = 0;
    while (buffer.length >= start + 2 && buffer[start] === 13 && buffer[start + 1] === 10) start += 2;
    if (start > 0 && start === buffer.length) return start;
    const end = buffer.indexOf(HEAD_END, start);
    // a line ended by a bare LF: some parsers end it there, others do not (a smuggling vector)
    if (hasBareLf(buffer, start, end < 0 ? buffer.length : end))
      throw refused(400, "a line not ended by CRLF");
    if (end < 0) {
      if (buffer.length - start > this.#maxHead) throw refused(431, "the request's head is too large");
      // a request has begun: it must arrive whole within the request timeout
      this.#startRequestTimer();
      return -1;
    }
    if (end - start + 4 > this.#maxHead) throw refused(431, "the request's head is too large");
    this.#startRequestTimer();
    this.#headBytes = end - start + 4;
    const lines = buffer.toString("latin1", start, end).split("\r\n");
    this.#requestLine(lines[0] as string);
    if (lines.length - 1 > this.#maxHeaders) throw refused(431, "the request has too many headers");
    const headers: Record<string, string | string[]> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      // no obsolete line folding, no space before the colon (RFC 9112 §5.1, §5.2)
      if (colon <= 0) throw refused(400, "a header line without a name");
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) throw refused(400, "a header name that is not a token");
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      if (!FIELD_VALUE.test(value)) throw refused(400, "a header value with a control character");
      const key = name.toLowerCase();
      const previous = headers[key];
      if (previous === undefined) headers[key] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else headers[key] = [previous, value];
    }
    this.#headers = headers;
    this.#framing(headers);
    return end + 4;
  }

  #requestLine(line: string): void {
    const parts = line.split(" ");
    if (parts.length !== 3) throw refused(400, "a malformed request line");
    const [method, target, version] = parts as [string, string, string];
    if (!TOKEN.test(method)) throw refused(400, "a malformed request method");
    if (!ORIGIN_FORM.test(target)) throw refused(400, "a request target that is not a path");
    if (version === "HTTP/1.1") this.#http10 = false;
    else if (version === "HTTP/1.0") this.#http10 = true;
    else if (/^HTTP\/\d\.\d$/.test(version)) throw refused(505, `${version} is not supported`);
    else throw refused(400, "a malformed HTTP version");
    this.#method = method;
    const query = target.indexOf("?");
    this.#path = query < 0 ? target : target.slice(0, query);
  }

  /** How the body is framed, whether the connection is kept, and what `Expect` asks. */
  #framing(headers: Record<string, string | string[]>): void {
    const connection = listOf(headers["connection"]);
    this.#keepAlive = this.#http10 ? connection.includes("keep-alive") : !connection.includes("close");
    const te = headers["transfer-encoding"];
    const cl = headers["content-length"];
    if (te !== undefined && cl !== undefined)
      throw refused(400, "both Content-Length and Transfer-Encoding: the body's framing is ambiguous");
    this.#chunks = [];
    this.#size = 0;
    let chunked = false;
    let length = 0;
    if (te !== undefined) {
      const codings = listOf(te);
      if (this.#http10) throw refused(400, "Transfer-Encoding in an HTTP/1.0 request");
      if (codings.length !== 1 || codings[0] !== "chunked")
        throw refused(501, "only the chunked transfer coding is supported");
      chunked = true;
    } else if (cl !== undefined) {
      // a list of equal lengths is one length (RFC 9112 §6.3); differing ones are refused
      const values = new Set(
        (Array.isArray(cl) ? cl : [cl]).flatMap((v) => v.split(",")).map((v) => v.trim()),
      );
      const [only] = values;
      if (values.size !== 1 || only === undefined || !/^\d{1,15}$/.test(only))
        throw refused(400, "a Content-Length that is not one size");
      length = Number(only);
      if (length > this.#options.bodyLimitBytes) throw this.#tooLarge();
    }
    const expect = headers["expect"];
    if (expect !== undefined) {
      if (Array.isArray(expect) || expect.toLowerCase() !== "100-continue")
        throw refused(417, "the only expectation met is 100-continue");
      // HTTP/1.0 clients do not expect an interim answer
      if (!this.#http10 && (chunked || length > 0)) this.#socket.write(CONTINUE);
    }
    if (chunked || length > 0) {
      this.#bodyReader = chunked
        ? new ChunkedBody(this.#bodySide)
        : new LengthBody(length, this.#bodySide.data);
      this.#read = Read.Body;
    } else this.#dispatch();
  }

  #tooLarge(): RefusedRequest {
    return refused(413, `the body exceeds ${this.#options.bodyLimitBytes} bytes`);
  }

  #body(part: Buffer): void {
    this.#size += part.length;
    if (part.length > 0) this.#chunks.push(part);
  }

  #dispatch(): void {
    this.#clearTimer();
    this.#read = Read.Answering;
    const chunks = this.#chunks;
    this.#chunks = [];
    const request: ApiRequest = {
      method: this.#method,
      path: this.#path,
      headers: this.#headers,
      body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
    };
    let answer: ApiAnswer | Promise<ApiAnswer>;
    try {
      answer = this.#options.handle(request);
    } catch (error) {
      answer = this.#options.onError(error);
    }
    if (answer instanceof Promise) {
      answer.then(
        (a) => this.#answer(request, a),
        (error: unknown) => this.#answer(request, this.#options.onError(error)),
      );
    } else {
      // answered at once: after the parse loop has kept what follows (a pipelined request)
      const now = answer;
      queueMicrotask(() => this.#answer(request, now));
    }
  }

  #answer(request: ApiRequest, answer: ApiAnswer): void {
    if (this.#socket.destroyed) return;
    const keepAlive = this.#keepAlive && !this.#closing();
    this.#write(answer, keepAlive, request.method === "HEAD");
    if (!keepAlive) {
      this.#end();
      return;
    }
    this.#read = Read.Head;
    this.#headBytes = 0;
    this.#socket.resume();
    const next = this.#buffer;
    this.#buffer = undefined;
    if (next !== undefined && next.length > 0) this.#parse(next);
    if (this.#read === Read.Head && this.#buffer === undefined) this.#waitIdle();
  }

  /** Answers a refused request, then closes: what follows it cannot be framed. */
  #refuse(refusal: Refusal): void {
    this.#clearTimer();
    this.#read = Read.Done;
    this.#buffer = undefined;
    this.#write(this.#options.refusal(refusal), false, false);
    this.#end();
  }

  #write(answer: ApiAnswer, keepAlive: boolean, head: boolean): void {
    const body = answer.body;
    let text = `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? "Unknown"}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
    if (answer.headers !== undefined) {
      for (const name in answer.headers) text += `${name}: ${answer.headers[name]}\r\n`;
    }
    if (!keepAlive) text += "connection: close\r\n";
    else if (this.#http10) text += "connection: keep-alive\r\n";
    text += `date: ${httpDate()}\r\n\r\n`;
    // one write: head and body go out together
    this.#socket.write(head ? text : text + body);
  }

  #end(): void {
    this.#read = Read.Done;
    this.#clearTimer();
    this.#socket.end();
    // a client that does not close its side is not waited for
    this.#socket.destroySoon();
  }

  /** Waits for the next request's first byte, at most the keep-alive timeout. */
  #waitIdle(): void {
    this.#clearTimer();
    this.#timer = setTimeout(
      () => this.#socket.destroy(),
      this.#options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    );
    this.#timer.unref();
  }

  /** Bounds the request being read by the request timeout, once, from its first byte. */
  #startRequestTimer(): void {
    if (this.#timer !== undefined && this.#timerIsRequest) return;
    this.#clearTimer();
    this.#timerIsRequest = true;
    this.#timer = setTimeout(
      () => this.#socket.destroy(),
      this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    );
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerIsRequest = false;
  }
}

class RefusedRequest extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.message);
    this.refusal = refusal;
  }
}

function refused(status: Refusal["status"], message: string): RefusedRequest {
  return new RefusedRequest({ status, message });
}

function hasBareLf(buffer: Buffer, from: number, to: number): boolean {
  for (let at = buffer.indexOf(10, from); at >= 0 && at < to; at = buffer.indexOf(10, at + 1)) {
    if (at === 0 || buffer[at - 1] !== 13) return true;
  }
  return false;
}

/** A comma-separated header's items, lower-case. */
function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value.join(",") : value)
    .toLowerCase()
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

let dateSecond = -1;
let dateText = "";

/** The `Date` header's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1_000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
