import { createReadStream, existsSync, statSync } from "node:fs";
import { extname, isAbsolute, join, relative, resolve } from "node:path";
import { MeshError } from "@switchyard/runtime";
import type { FastifyReply } from "fastify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Switchyard</title>
<p>The dashboard is not built: run <code>npm run build</code>. Its JSON API is under <a href="/api/overview">/api/overview</a>.</p>`;

/**
 * A file of the built single-page app; any other path is a route of the app, so it gets
 * `index.html`. A page saying to build it when there is no build.
 */
export function sendAsset(reply: FastifyReply, root: string, pathname: string): FastifyReply {
  if (!existsSync(join(root, "index.html"))) return reply.type(TYPES[".html"] as string).send(PLACEHOLDER);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    throw new MeshError("INVALID_ARGUMENT", "malformed path");
  }
  // only files inside the build: the prefix check keeps `..` and absolute paths out
  const file = resolve(root, `.${decoded}`);
  const rel = relative(root, file);
  const inside = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  const target = inside && existsSync(file) && statSync(file).isFile() ? file : join(root, "index.html");
  return reply.type(TYPES[extname(target)] ?? "application/octet-stream").send(createReadStream(target));
}
