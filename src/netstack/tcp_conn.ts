/**
 * A TCP connection of the module's stack shaped as `Deno.Conn`: `read`/`write`, `readable`/
 * `writable`, `close`/`closeWrite`, `localAddr`/`remoteAddr`, disposable. Bytes are copied once,
 * here, between the caller's buffer and the slots (received data is read out of the segments'
 * own slots; data to send is written into fresh slots the stack keeps until acknowledged).
 *
 * Readiness comes from the stack's events ({@link TcpConn.wake}, called by the tunnel for this
 * connection's handle); anything queued on the stack is followed by a kick of the device's loop.
 *
 * @example
 * ```ts ignore
 * const conn = await tunnel.connect({ hostname: "10.0.0.1", port: 80 });
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * for await (const chunk of conn.readable) console.log(chunk.length);
 * ```
 * @module
 */

import { E_AGAIN, HEADROOM } from "../wasm/abi.ts";
import type { SlabPool } from "../wasm/slab.ts";
import { CLOSED, CONNECTED, EOF, ERROR, type Netstack, READABLE, WRITABLE } from "./netstack.ts";

/** Where data goes in a send slot: behind room for the headers the stack writes in front. */
const DATA_OFF = HEADROOM + 64;

/** What a connection needs of its tunnel. */
export interface ConnHost {
  readonly stack: Netstack;
  readonly pool: SlabPool;
  /** The device's loop collects what was queued. */
  kick(): void;
  now(): number;
  /** The handle is let go: no more events for it. */
  forget(handle: number): void;
}

/** An ICMP host unreachable for the connect (`Deno.errors` has no such class; EHOSTUNREACH). */
export class HostUnreachable extends Error {
  override name = "HostUnreachable";
}

/** An ICMP "administratively prohibited" for the connect (a firewall on the way refused it). */
export class ConnectionNotAllowed extends Error {
  override name = "ConnectionNotAllowed";
}

/** A connection's error (wasm/ABI.md) as the `Deno.errors` a Deno program expects. */
export function connError(code: number, what: string): Error {
  switch (code) {
    case 1:
      return new Deno.errors.ConnectionRefused(`${what}: connection refused`);
    case 2:
      return new Deno.errors.ConnectionReset(`${what}: connection reset by the peer`);
    case 3:
      return new Deno.errors.TimedOut(`${what}: timed out`);
    case 5:
      return new Deno.errors.NetworkUnreachable(`${what}: network unreachable (ICMP)`);
    case 6:
      return new HostUnreachable(`${what}: host unreachable (ICMP)`);
    case 7:
      return new ConnectionNotAllowed(`${what}: administratively prohibited (ICMP)`);
    default:
      return new Deno.errors.ConnectionAborted(`${what}: connection aborted`);
  }
}

/** One connection; made by the tunnel's `connect` and `listen`. */
export class TcpConn implements Deno.Conn {
  readonly handle: number;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  readonly #host: ConnHost;
  #readiness = 0;
  #waiters: { mask: number; resolve: () => void }[] = [];
  #released = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;

  constructor(host: ConnHost, handle: number) {
    this.#host = host;
    this.handle = handle;
    [this.localAddr, this.remoteAddr] = host.stack.tcpEndpoints(handle);
  }

  /** The stack reported `readiness` for this connection. */
  wake(readiness: number): void {
    this.#readiness = readiness;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (readiness & (w.mask | CLOSED | ERROR)) w.resolve();
      else this.#waiters.push(w);
    }
  }

  /** Resolves once an event has one of `mask` (or the end); at once if the last one had. */
  waitFor(mask: number): Promise<void> {
    if (this.#readiness & (mask | CLOSED | ERROR)) {
      this.#readiness &= ~mask; // taken: the next wait needs a new event
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push({ mask, resolve }));
  }

  /** Bytes into `p`; null at the end of the data. */
  async read(p: Uint8Array): Promise<number | null> {
    const { stack } = this.#host;
    for (;;) {
      if (this.#released) throw new Deno.errors.BadResource("the connection is closed");
      let copied = 0;
      const n = stack.tcpRecv(this.handle, (piece) => {
        const take = Math.min(piece.length, p.length - copied);
        if (take > 0) p.set(piece.subarray(0, take), copied);
        copied += take;
      });
      if (n > 0) {
        stack.tcpConsume(this.handle, copied);
        this.#host.kick(); // the window opened
        return copied;
      }
      if (n === 0) {
        const { error } = stack.tcpState(this.handle);
        if (error !== 0) throw connError(error, "read");
        return null;
      }
      if (n !== E_AGAIN) throw connError(4, "read");
      await this.waitFor(READABLE | EOF);
    }
  }

  /** Queues all of `p` (waiting for room as the peer acknowledges); returns its length. */
  async write(p: Uint8Array): Promise<number> {
    const { stack, pool } = this.#host;
    const chunk = pool.slotSize - DATA_OFF;
    let done = 0;
    while (done < p.length) {
      if (this.#released) throw new Deno.errors.BadResource("the connection is closed");
      const off = pool.allocSlot();
      if (off === 0) {
        // The pool is at its cap: the data waiting elsewhere frees slots as it goes.
        this.#host.kick();
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const len = Math.min(chunk, p.length - done);
      pool.u8.set(p.subarray(done, done + len), off + DATA_OFF);
      const rc = stack.tcpSend(this.handle, off, DATA_OFF, len);
      if (rc === len) {
        done += len;
        continue;
      }
      pool.free(off);
      if (rc !== E_AGAIN) {
        const { error } = stack.tcpState(this.handle);
        throw error !== 0 ? connError(error, "write") : new Deno.errors.BrokenPipe("write: closed");
      }
      this.#host.kick();
      await this.waitFor(WRITABLE);
    }
    this.#host.kick();
    return p.length;
  }

  /** No more data from us (a FIN after what is queued); reading goes on. */
  closeWrite(): Promise<void> {
    if (!this.#released) {
      this.#host.stack.tcpShutdown(this.handle);
      this.#host.kick();
    }
    return Promise.resolve();
  }

  /** Lets go of the connection: it closes in the background (a FIN, or a RST if data is unread). */
  close(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.stack.tcpRelease(this.handle, this.#host.now());
    this.#host.forget(this.handle);
    this.#host.kick();
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
  }

  /** A RST to the peer now, and the connection let go (a refusal after the accept). */
  abort(): void {
    if (this.#released) return;
    this.#host.stack.tcpAbort(this.handle, this.#host.now());
    this.close();
  }

  /** Resolves once the handshake completed; throws the connect's error, or TimedOut after `ms`. */
  async established(what: string, ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
    const won = await Promise.race([this.waitFor(CONNECTED), late]);
    clearTimeout(timer);
    if (won === "late") {
      this.#host.stack.tcpAbort(this.handle, this.#host.now());
      this.#host.kick();
      throw new Deno.errors.TimedOut(`${what}: no answer in ${ms / 1000} s`);
    }
    const { state, error } = this.#host.stack.tcpState(this.handle);
    if (error !== 0 || state === 0) throw connError(error === 0 ? 4 : error, what);
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      pull: async (c) => {
        const buf = new Uint8Array(64 * 1024);
        const n = await this.read(buf);
        if (n === null) {
          c.close();
          c.byobRequest?.respond(0);
        } else c.enqueue(buf.subarray(0, n));
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => void await this.write(chunk),
      close: () => this.closeWrite(),
    });
    return this.#writable;
  }

  /**
   * TCP keepalive, as `Deno.TcpConn.setKeepAlive`: after `idleMs` (default 2 h, RFC 1122's
   * least) without a segment from the peer, up to `count` probes (default 9) `intervalMs` apart
   * (default 75 s); unanswered, the connection ends with TimedOut. Off by default.
   */
  setKeepAlive(
    enable = true,
    opts: { idleMs?: number; intervalMs?: number; count?: number } = {},
  ): void {
    if (this.#released) return;
    const idle = enable ? opts.idleMs ?? 7_200_000 : 0;
    this.#host.stack.tcpKeepAlive(
      this.handle,
      idle,
      opts.intervalMs ?? 75_000,
      opts.count ?? 9,
      this.#host.now(),
    );
    this.#host.kick(); // the stack's next deadline may be earlier now
  }

  ref(): void {}
  unref(): void {}

  [Symbol.dispose](): void {
    this.close();
  }
}
