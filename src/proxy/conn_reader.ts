/**
 * Reads what a proxy front end's handshake needs from a connection (SOCKS5 fields, an HTTP head),
 * keeping what the client sent beyond it for the connection's first data.
 *
 * @example
 * ```ts ignore
 * const r = new ConnReader(conn);
 * const [ver, n] = await r.take(2);
 * ```
 * @module
 */

/** Reads exactly what a handshake needs, keeping what the client sent beyond it. */
export class ConnReader {
  #buf = new Uint8Array(1024);
  #start = 0;
  #end = 0;
  constructor(readonly conn: Deno.Conn) {}

  /** The next `n` bytes. */
  async take(n: number): Promise<Uint8Array> {
    if (n > this.#buf.length) {
      const bigger = new Uint8Array(2 * n);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = bigger;
    }
    while (this.#end - this.#start < n) {
      if (this.#end === this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.conn.read(this.#buf.subarray(this.#end));
      if (got === null) throw new Error("the client closed during the handshake");
      this.#end += got;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** What the client sent after the handshake (its first data). */
  rest(): Uint8Array {
    return this.#buf.slice(this.#start, this.#end);
  }

  /**
   * Everything up to and including the first `\r\n\r\n` (an HTTP head), at most `max` bytes;
   * null if the head is longer.
   */
  async head(max: number): Promise<Uint8Array | null> {
    for (;;) {
      const buf = this.#buf.subarray(this.#start, this.#end);
      for (let i = 3; i < buf.length; i++) {
        if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
          return await this.take(i + 1);
        }
      }
      if (buf.length >= max) return null;
      if (this.#end === this.#buf.length) {
        const bigger = new Uint8Array(Math.min(max + 1024, 2 * this.#buf.length));
        bigger.set(buf);
        this.#buf = bigger;
        this.#end -= this.#start;
        this.#start = 0;
      }
      const got = await this.conn.read(this.#buf.subarray(this.#end));
      if (got === null) throw new Error("the client closed before the end of its request head");
      this.#end += got;
    }
  }
}
