// a chunk-size line: hex digits, then optional chunk extensions (RFC 9112 §7.1.1), read past
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})(?:[ \t]*;[\t\x20-\x7e]*)?$/;
const CR = 13;
const LF = 10;

/** What a chunked body's reader needs of the side it reads for: its bounds and its errors. */
export interface ChunkedSide {
  /**
   * The end of the CRLF-ended line `buffer` starts with (a chunk size or a trailer), or -1 to wait
   * for more bytes; throws when the line breaks the side's bound.
   */
  line(buffer: Buffer): number;
  /** The next chunk's size, before its data; throws when the body would break the side's bound. */
  size(bytes: number): void;
  /** A piece of the body. */
  data(part: Buffer): void;
  /** The error for a body that is not chunked as HTTP/1.1 says. */
  malformed(what: string): Error;
}

enum At {
  Size,
  Data,
  DataEnd,
  Trailers,
  Done,
}

/** A message body read as its bytes arrive, however it is framed. */
export interface BodyReader {
  /** True once the whole body is read. */
  readonly done: boolean;
  /** Reads what it can of `buffer`: the bytes it took, or -1 to wait for more. */
  read(buffer: Buffer): number;
}

/** Reads a body framed by `Content-Length` as its bytes arrive, giving each piece to `data`. */
export class LengthBody implements BodyReader {
  readonly #data: (part: Buffer) => void;
  #left: number;

  constructor(length: number, data: (part: Buffer) => void) {
    this.#left = length;
    this.#data = data;
  }

  get done(): boolean {
    return this.#left === 0;
  }

  read(buffer: Buffer): number {
    const take = Math.min(this.#left, buffer.length);
    this.#data(buffer.subarray(0, take));
    this.#left -= take;
    return take;
  }
}

/**
 * Reads a chunked body (RFC 9112 §7.1) as its bytes arrive: sizes, data, the CRLF after each
 * chunk, trailers (read past). The sidecar's API server reads requests with it, its app
 * connection answers; each gives its own bounds and errors.
 */
export class ChunkedBody implements BodyReader {
  readonly #side: ChunkedSide;
  #at = At.Size;
  #left = 0;

  constructor(side: ChunkedSide) {
    this.#side = side;
  }

  /** True once the last trailer line (the empty one) is read. */
  get done(): boolean {
    return this.#at === At.Done;
  }

  /** Reads what it can of `buffer`: the bytes it took, or -1 to wait for more. */
  read(buffer: Buffer): number {
    switch (this.#at) {
      case At.Size: {
        const end = this.#side.line(buffer);
        if (end < 0) return -1;
        const m = CHUNK_SIZE.exec(buffer.toString("latin1", 0, end));
        if (m === null) throw this.#side.malformed("a chunk size that is not hexadecimal");
        this.#left = Number.parseInt(m[1] as string, 16);
        this.#side.size(this.#left);
        this.#at = this.#left === 0 ? At.Trailers : At.Data;
        return end + 2;
      }
      case At.Data: {
        const take = Math.min(this.#left, buffer.length);
        this.#side.data(buffer.subarray(0, take));
        this.#left -= take;
        if (this.#left === 0) this.#at = At.DataEnd;
        return take;
      }
      case At.DataEnd:
        if (buffer.length < 2) return -1;
        if (buffer[0] !== CR || buffer[1] !== LF) throw this.#side.malformed("a chunk not followed by CRLF");
        this.#at = At.Size;
        return 2;
      case At.Trailers: {
        const end = this.#side.line(buffer);
        if (end < 0) return -1;
        if (end === 0) this.#at = At.Done;
        return end + 2;
      }
      case At.Done:
        return 0;
    }
  }
}
