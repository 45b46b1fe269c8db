import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { type ApiAnswer, type ApiHandler, type ApiServerLimits, startApiServer } from "./api-server.js";

/** A server that answers each request with what it read (method, path, headers it names, body). */
async function serve(t: TestContext, limits: Partial<ApiServerLimits> = {}, handle?: ApiHandler) {
  const seen: string[] = [];
  const server = await startApiServer({
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: 64,
    ...limits,
    handle:
      handle ??
      ((request) => {
        seen.push(request.body.toString());
        return {
          status: 200,
          body: JSON.stringify({ m: request.method, p: request.path, b: request.body.toString() }),
        };
      }),
    onError: (error) => ({ status: 500, body: JSON.stringify({ error: String(error) }) }),
    refusal: (refusal) => ({ status: refusal.status, body: JSON.stringify({ refused: refusal.message }) }),
  });
  t.after(() => server.close());
  return { server, seen };
}

function open(port: number): Socket {
  const socket = connect({ port, host: "127.0.0.1" });
  socket.setEncoding("latin1");
  return socket;
}

/** Writes `parts` (in separate writes), then reads until the server closes the connection. */
async function transcript(port: number, ...parts: string[]): Promise<string> {
  const socket = open(port);
  let text = "";
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  for (const part of parts) socket.write(part);
  await once(socket, "close");
  return text;
}

/** Reads from `socket` until `text` holds `count` answers whose bodies are whole. */
function answers(text: string): Array<{ status: number; headers: string; body: string }> {
  const out: Array<{ status: number; headers: string; body: string }> = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return out;
    const head = rest.slice(0, end);
    const status = Number(head.slice(9, 12));
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    const body = status === 100 ? "" : rest.slice(end + 4, end + 4 + length);
    out.push({ status, headers: head.toLowerCase(), body });
    rest = rest.slice(end + 4 + body.length);
  }
}

const post = (body: string, extra = "") =>
  `POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const CLOSE = "GET /last HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n";

describe("the API server", () => {
  it("keeps the connection for the next request, and answers pipelined requests in order", async (t) => {
    let first = true;
    const { server } = await serve(t, {}, async (request) => {
      // the first answer is the slowest: the second must still come after it
      if (first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return { status: 200, body: request.body.toString() || JSON.stringify(request.path) };
    });
    const text = await transcript(server.port, post('"a"') + post('"b"'), CLOSE);
    const got = answers(text);
    assert.deepEqual(
      got.map((a) => [a.status, a.body]),
      [
        [200, '"a"'],
        [200, '"b"'],
        [200, '"/last"'],
      ],
    );
    assert.ok(got[2]?.headers.includes("connection: close"));
    assert.ok(!got[0]?.headers.includes("connection:"));
  });

  it("reads a body framed by Content-Length in pieces, and a chunked one with extensions and trailers", async (t) => {
    const { server, seen } = await serve(t);
    const chunked =
      "POST /c HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n" +
      '3;ext=1\r\n{"a\r\n4\r\n":1}\r\n0\r\nx-trailer: y\r\n\r\n';
    await transcript(server.port, post('{"n":12}').slice(0, 50), post('{"n":12}').slice(50), chunked, CLOSE);
    assert.deepEqual(seen, ['{"n":12}', '{"a":1}', ""]);
  });

  it("refuses Content-Length with Transfer-Encoding, and codings it cannot frame (request smuggling), then closes", async (t) => {
    const { server, seen } = await serve(t);
    const both = `POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${CLOSE}`;
    for (const [request, status] of [
      [both, 400],
      [`POST /x HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, 501],
      [`POST /x HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab`, 400],
      [`POST /x HTTP/1.1\r\ncontent-length: +1\r\n\r\na`, 400],
      [`POST /x HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      [`POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`, 400],
      [`POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n`, 400],
    ] as const) {
      const got = answers(await transcript(server.port, request));
      assert.deepEqual(
        got.map((a) => a.status),
        [status],
        request,
      );
      assert.ok(got[0]?.headers.includes("connection: close"));
    }
    assert.deepEqual(seen, [], "no refused request reached the handler, nor what followed it");
  });

  it("refuses malformed heads: request line, version, header names, folding, bare LF", async (t) => {
    const { server, seen } = await serve(t);
    for (const [request, status] of [
      ["GARBAGE\r\n\r\n", 400],
      ["GET  / HTTP/1.1\r\n\r\n", 400],
      ["GET http://evil/ HTTP/1.1\r\n\r\n", 400],
      ["GET / HTTP/2.0\r\n\r\n", 505],
      ["GET / HTTQ/1.1\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nhost : a\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nhost: a\r\n folded\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\n: empty\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nx: a\x00b\r\n\r\n", 400],
      ["GET / HTTP/1.1\nhost: a\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nhost: a\n\n", 400],
      ["GET / HTTP/1.1\r\nexpect: magic\r\n\r\n", 417],
    ] as const) {
      const got = answers(await transcript(server.port, request));
      assert.deepEqual(
        got.map((a) => a.status),
        [status],
        JSON.stringify(request),
      );
    }
    assert.deepEqual(seen, []);
  });

  it("refuses a head over its size or header count, and a body over the limit, by length or in chunks", async (t) => {
    const { server, seen } = await serve(t, { maxHeadBytes: 256, maxHeaders: 5 });
    const big = `GET / HTTP/1.1\r\nx: ${"a".repeat(300)}\r\n\r\n`;
    const many = `GET / HTTP/1.1\r\n${"x: 1\r\n".repeat(6)}\r\n`;
    const endless = `GET / HTTP/1.1\r\nx: ${"a".repeat(400)}`;
    const long = post("a".repeat(65));
    const chunks = `POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n20\r\n${"a".repeat(32)}\r\n21\r\n`;
    const trailers = `POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n${"t: 1\r\n".repeat(60)}\r\n`;
    for (const [request, status] of [
      [big, 431],
      [many, 431],
      [endless, 431],
      [long, 413],
      [chunks, 413],
      [trailers, 431],
    ] as const) {
      const got = answers(await transcript(server.port, request));
      assert.deepEqual(
        got.map((a) => a.status),
        [status],
        request.slice(0, 60),
      );
    }
    assert.deepEqual(seen, []);
  });

  it("answers Expect: 100-continue before the body is sent, and refuses an oversize one without it", async (t) => {
    const { server, seen } = await serve(t);
    const socket = open(server.port);
    let text = "";
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.write("POST /x HTTP/1.1\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n");
    while (!text.includes("\r\n\r\n")) await once(socket, "data");
    assert.ok(text.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    assert.deepEqual(seen, []);
    socket.write(`{}${CLOSE}`);
    await once(socket, "close");
    assert.deepEqual(
      answers(text).map((a) => a.status),
      [100, 200, 200],
    );
    const refused = answers(
      await transcript(
        server.port,
        "POST /x HTTP/1.1\r\ncontent-length: 999\r\nexpect: 100-continue\r\n\r\n",
      ),
    );
    assert.deepEqual(
      refused.map((a) => a.status),
      [413],
    );
  });

  it("closes after an HTTP/1.0 request unless it asks to keep the connection", async (t) => {
    const { server } = await serve(t);
    const closed = answers(await transcript(server.port, "GET /a HTTP/1.0\r\n\r\n"));
    assert.deepEqual(
      closed.map((a) => a.status),
      [200],
    );
    assert.ok(closed[0]?.headers.includes("connection: close"));
    const kept = answers(
      await transcript(server.port, "GET /a HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", CLOSE),
    );
    assert.deepEqual(
      kept.map((a) => a.status),
      [200, 200],
    );
    assert.ok(kept[0]?.headers.includes("connection: keep-alive"));
  });

  it("answers HEAD without a body, and a handler's throw through onError", async (t) => {
    const { server } = await serve(t, {}, (request): ApiAnswer => {
      if (request.method === "POST") throw new Error("boom");
      return { status: 200, headers: { "retry-after": "3" }, body: '{"x":1}' };
    });
    const text = await transcript(server.port, "HEAD / HTTP/1.1\r\n\r\n", post("{}"), CLOSE);
    assert.match(
      text,
      /^HTTP\/1\.1 200 OK\r\n.*content-length: 7\r\nretry-after: 3\r\n.*\r\n\r\nHTTP\/1\.1 500 /s,
    );
    assert.match(text, /"error":"Error: boom"/);
  });

  it("does not wait on a client that sends its head a little at a time (slowloris)", async (t) => {
    const { server } = await serve(t, { requestTimeoutMs: 100 });
    const slow = open(server.port);
    // cut off while it still drips, the client may see the reset (ECONNRESET) before the close
    slow.on("error", () => {});
    slow.write("GET / HTTP/1.1\r\n");
    const drip = setInterval(() => slow.write("x: 1\r\n"), 20);
    t.after(() => clearInterval(drip));
    await once(slow, "close");
    clearInterval(drip);
    // the server still answers others meanwhile, and after
    assert.equal(answers(await transcript(server.port, CLOSE))[0]?.status, 200);
  });

  it("close() answers the request in flight (Connection: close), cuts idle and half-sent ones, then resolves", async (t) => {
    let release = () => {};
    let begin = () => {};
    const started = new Promise<void>((resolve) => {
      begin = resolve;
    });
    const { server } = await serve(t, {}, async () => {
      begin();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return { status: 200, body: "{}" };
    });
    const idle = open(server.port);
    const partial = open(server.port);
    partial.write("GET / HTTP/1.1\r\nhost:");
    const busy = open(server.port);
    let text = "";
    busy.on("data", (chunk: string) => {
      text += chunk;
    });
    busy.write("GET / HTTP/1.1\r\n\r\n");
    await started;
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await Promise.all([once(idle, "close"), once(partial, "close")]);
    assert.equal(closed, false, "the request in flight holds the close");
    release();
    await once(busy, "close");
    await closing;
    assert.equal(answers(text)[0]?.status, 200);
    assert.ok(answers(text)[0]?.headers.includes("connection: close"));
  });
});
