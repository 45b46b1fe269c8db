import assert from "node:assert/strict";
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { isMeshError } from "@switchyard/runtime";
import { AppConnections, AppUnreachable } from "./app-connection.js";

const never = () => new AbortController().signal;

/** Listens on a free loopback port until the test ends, then ends every connection and closes. */
async function listening(t: TestContext, server: Server | HttpServer): Promise<URL> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** A node:http app; each request's method, URL, headers and body are kept. */
async function httpApp(
  t: TestContext,
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void,
) {
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }> =
    [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, res, body);
    });
  });
  server.on("connection", (socket) => sockets.add(socket));
  return { url: await listening(t, server), seen, sockets };
}

/** A TCP server that answers each request (each read) with what `raw` writes. */
async function rawApp(t: TestContext, raw: (socket: Socket) => void) {
  return listening(
    t,
    createServer((socket) => socket.on("data", () => raw(socket))),
  );
}

describe("the sidecar's connections to its app", { timeout: 20_000 }, () => {
  it("sends the method, path, headers and JSON body, and reuses the connection for the next exchange", async (t) => {
    const app = await httpApp(t, (_req, res, body) => {
      res.writeHead(201, {
        "content-type": "application/json",
        "retry-after": "3",
        "mesh-retry-after": "1500",
      });
      res.end(body);
    });
    const connections = new AppConnections(app.url);
    t.after(() => connections.close());
    const body = JSON.stringify({ name: "ünïcode" });
    for (let i = 0; i < 3; i++) {
      const answer = await connections.exchange(
        { method: "POST", path: "/echo?x=1", headers: { "mesh-tenant": "acme" }, body },
        never(),
      );
      assert.deepEqual(answer, { status: 201, body, retryAfter: "3", meshRetryAfter: "1500" });
    }
    assert.equal(app.sockets.size, 1);
    const first = app.seen[0];
    assert.equal(first?.method, "POST");
    assert.equal(first?.url, "/echo?x=1");
    assert.equal(first?.headers["mesh-tenant"], "acme");
    assert.equal(first?.headers["content-type"], "application/json");
    assert.equal(first?.headers.host, app.url.host);
    const health = await connections.exchange({ method: "GET", path: "/health", headers: {} }, never());
    assert.equal(health.status, 201);
    assert.equal(app.seen[3]?.method, "GET");
  });

  it("reads chunked answers, answers after an interim 100, bodiless 204s, and answers ended by the connection", async (t) => {
    const answers = [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n[1,2\r\n2\r\n,3\r\n1\r\n]\r\n0\r\nX-Trailer: y\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue",
      "HTTP/1.1 204 No Content\r\n\r\n",
      'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n["until close"]',
    ];
    const url = await rawApp(t, (socket) => {
      const answer = answers.shift() as string;
      // in pieces, as a slow app writes it
      for (let i = 0; i < answer.length; i += 7) socket.write(answer.slice(i, i + 7));
      if (answer.startsWith("HTTP/1.0")) socket.end();
    });
    const connections = new AppConnections(url);
    t.after(() => connections.close());
    const post = () => connections.exchange({ method: "POST", path: "/", headers: {}, body: "{}" }, never());
    assert.equal((await post()).body, "[1,2,3]");
    assert.deepEqual(await post(), {
      status: 200,
      body: "true",
      retryAfter: undefined,
      meshRetryAfter: undefined,
    });
    assert.equal((await post()).status, 204);
    assert.equal((await post()).body, '["until close"]');
  });

  it("a new connection after the app closes one (Connection: close, or idle)", async (t) => {
    const app = await httpApp(t, (_req, res, body) => {
      res.writeHead(200, { connection: "close", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
    const connections = new AppConnections(app.url);
    t.after(() => connections.close());
    for (let i = 0; i < 3; i++) {
      const answer = await connections.exchange(
        { method: "POST", path: "/", headers: {}, body: `${i}` },
        never(),
      );
      assert.equal(answer.body, `${i}`);
    }
    assert.equal(app.seen.length, 3);
  });

  it("a connection idle past the app's Keep-Alive timeout, less a second, is not reused", async (t) => {
    const app = await httpApp(t, (_req, res) => {
      res.writeHead(200, { "keep-alive": "timeout=1", "content-length": 2 });
      res.end("{}");
    });
    const connections = new AppConnections(app.url);
    t.after(() => connections.close());
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await connections.exchange({ method: "GET", path: "/", headers: {} }, never())).body,
        "{}",
      );
    }
    assert.equal(app.sockets.size, 3);
  });

  it("an app that cannot be reached, or closes before it answers, is AppUnreachable", async (t) => {
    const closed = await rawApp(t, (socket) => socket.destroy());
    const connections = new AppConnections(closed);
    t.after(() => connections.close());
    await assert.rejects(
      connections.exchange({ method: "POST", path: "/", headers: {}, body: "{}" }, never()),
      AppUnreachable,
    );
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
    const { port } = free.address() as AddressInfo;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    // nothing listens there now
    const nobody = new AppConnections(new URL(`http://127.0.0.1:${port}`));
    t.after(() => nobody.close());
    await assert.rejects(nobody.exchange({ method: "GET", path: "/", headers: {} }, never()), AppUnreachable);
  });

  it("an answer that is not HTTP, or too large, is INTERNAL; an abort ends the exchange with its reason", async (t) => {
    const url = await rawApp(t, (socket) => socket.write("SSH-2.0-OpenSSH\r\n\r\n"));
    const connections = new AppConnections(url);
    t.after(() => connections.close());
    await assert.rejects(
      connections.exchange({ method: "GET", path: "/", headers: {} }, never()),
      (error) => isMeshError(error) && error.code === "INTERNAL",
    );
    const huge = await rawApp(t, (socket) => {
      const size = 9 * 1024 * 1024;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size, 0x20));
    });
    const large = new AppConnections(huge);
    t.after(() => large.close());
    await assert.rejects(
      large.exchange({ method: "GET", path: "/", headers: {} }, never()),
      (error) => isMeshError(error) && error.code === "INTERNAL" && /exceeds/.test(error.message),
    );
    const silent = await rawApp(t, () => {});
    const slow = new AppConnections(silent);
    t.after(() => slow.close());
    const controller = new AbortController();
    const aborted = slow.exchange({ method: "GET", path: "/", headers: {} }, controller.signal);
    const reason = new Error("deadline");
    controller.abort(reason);
    await assert.rejects(aborted, (error) => error === reason);
  });

  it("refuses a header value that would split the request", async (t) => {
    const connections = new AppConnections(new URL("http://127.0.0.1:9"));
    t.after(() => connections.close());
    assert.throws(
      () =>
        connections.exchange({ method: "GET", path: "/", headers: { "mesh-tenant": "a\r\nx: y" } }, never()),
      (error) => isMeshError(error) && error.code === "INTERNAL",
    );
  });
});
