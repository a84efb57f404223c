/**
 * One connection to the UAPI socket, as `UapiServer` (src/uapi/uapi_server.ts) serves
 * it: a growable receive buffer the server parses requests from in place, reads and
 * writes with deadlines (an idle client, or one that stops reading, is closed), and why
 * it stopped.
 *
 * @example
 * ```ts
 * import { UapiConnection } from "./uapi_connection.ts";
 * declare const conn: Deno.UnixConn; // accepted on the UAPI socket
 * const c = new UapiConnection(conn, 30_000);
 * if (await c.fill(Date.now() + 5_000)) console.log(c.text(0, c.size));
 * ```
 * @module
 */

const READ_CHUNK = 64 * 1024;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Why a connection stopped. */
export type Stop = "eof" | "timeout" | "closed";

/** One client connection: a growable receive buffer with deadlines. */
export class UapiConnection {
  #buf = new Uint8Array(READ_CHUNK);
  #start = 0;
  #end = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  stop: Stop | null = null;

  constructor(readonly conn: Deno.UnixConn, readonly idleMs: number) {}

  get size(): number {
    return this.#end - this.#start;
  }

  byte(i: number): number {
    return this.#buf[this.#start + i];
  }

  /** Offset of the first `b` at or after `from`, or -1. */
  indexOf(b: number, from: number): number {
    return this.#buf.subarray(this.#start, this.#end).indexOf(b, from);
  }

  text(from: number, to: number): string {
    return decoder.decode(this.#buf.subarray(this.#start + from, this.#start + to));
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Reads more bytes; false when the connection ended (EOF, timeout, error). */
  async fill(deadline: number): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#buf.length - this.#end < READ_CHUNK) {
      const live = this.size;
      if (this.#buf.length - live >= READ_CHUNK) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(Math.max(2 * this.#buf.length, live + READ_CHUNK));
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#arm(Math.min(this.idleMs, deadline - Date.now()));
    let n: number | null;
    try {
      n = await this.conn.read(this.#buf.subarray(this.#end, this.#end + READ_CHUNK));
    } catch {
      n = null;
    } finally {
      this.#disarm();
    }
    if (n === null) {
      this.stop ??= "eof";
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Writes everything; false if the client is gone or stops reading for `idleMs`. */
  async write(text: string): Promise<boolean> {
    const bytes = encoder.encode(text);
    let off = 0;
    this.#arm(this.idleMs);
    try {
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
      return true;
    } catch {
      this.stop ??= "eof";
      return false;
    } finally {
      this.#disarm();
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.stop ??= "timeout";
      this.close();
    }, Math.max(0, ms));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.#disarm();
    if (this.#closed) return;
    this.#closed = true;
    this.stop ??= "closed";
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}
