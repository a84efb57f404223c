/**
 * The device's handshake plane: handshake and cookie messages, key installation, staged
 * packets and the timers that schedule initiations and keepalives. It is
 * the data path's {@link DataHooks}: the data path reports handshake messages, authenticated
 * runs of packets, sends and packets without a key here, as plain numbers.
 *
 * Handshake messages are rare, so this is ordinary TypeScript over `src/wg/` (the protocol,
 * clock injected, no FFI; its cryptography in WebAssembly); it sends through the data path
 * ({@link HandshakeSender}) and reaches the data plane only through src/wasm/data_plane.ts.
 *
 * Work is bounded (src/device/handshake_backlog.ts) so that a storm of initiations cannot take
 * the loop from the data path: the cheap checks as messages arrive, within a budget per second
 * and per loop turn; the Noise work of initiations and responses from a backlog, a few per loop
 * turn ({@link HandshakePlane.turn}); under load (a long backlog) initiations need mac2.
 *
 * Every rejection is counted under a name in
 * {@link HandshakeCounters.rejected}: `overload`, `queue_full`, `bad_mac1`, `rate_limited`,
 * `cookie_reply`, `pool_exhausted`, `no_endpoint`, or the step and the `HandshakeError` name
 * (`initiation_replayed`, `response_unknown_index`, `derive_wrong_state`,
 * `initiation_create_no_private_key`, ...; names from src/wg/handshake.ts).
 *
 * @example
 * ```ts
 * import { HandshakePlane } from "./handshake_plane.ts";
 * import { PeerTable } from "./peer_table.ts";
 * import { DataPlane } from "../wasm/data_plane.ts";
 * import { instantiate } from "../wasm/module.ts";
 * import { SlabPool } from "../wasm/slab.ts";
 * import { generatePrivateKey, publicKey } from "../wg/keys.ts";
 * const wasm = instantiate();
 * const pool = SlabPool.create({ chunkSlots: 16, maxSlots: 16 }, wasm);
 * const plane = new DataPlane(wasm, pool);
 * const now = () => performance.now();
 * const peers = new PeerTable(plane, { addresses: [], kernel: null, now });
 * const privateKey = generatePrivateKey();
 * const local = { privateKey, publicKey: publicKey(privateKey) };
 * const hs = new HandshakePlane({ pool, plane, peers, local, now });
 * console.log(hs.counters.initiationsSent, hs.backlog); // 0 0 (connect(path) before anything is sent)
 * ```
 * @module
 */

import { CookieChecker, CookieVerdict } from "../wg/cookie_checker.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  type LocalStatic,
} from "../wg/handshake.ts";
import { handshakeErrorName } from "../wg/handshake_error.ts";
import type { KeypairInfo } from "../wg/keypair_rotation.ts";
import { publicKey } from "../wg/keys.ts";
import {
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  readU32LE,
} from "../wg/messages.ts";
import { REJECT_AFTER_TIME_MS, TimerAction } from "../wg/timers.ts";
import { decodeEndpoint } from "../endpoint.ts";
import { logger } from "../log.ts";
import { dropReasonName } from "../wasm/abi.ts";
import type { DataPlane } from "../wasm/data_plane.ts";
import type { SlabPool } from "../wasm/slab.ts";
import type { DataHooks } from "./data_hooks.ts";
import type { DevicePeer } from "./device_peer.ts";
import type { PeerTable } from "./peer_table.ts";
import { refreshEndpoint } from "./endpoint_refresh.ts";
import { PeerSchedule } from "./peer_schedule.ts";
import { RejectionLog } from "./rejection_log.ts";
import { HandshakeBacklog, type RunHandshake } from "./handshake_backlog.ts";
import { STAGED_MAX } from "./staged_queue.ts";
import type { Resolve } from "../resolve/endpoint_resolution.ts";

export { HANDSHAKE_BURST, UNDER_LOAD_PER_SECOND } from "./handshake_backlog.ts";

/** Handshake-path counters (the data path keeps its own). */
export interface HandshakeCounters {
  initiationsSent: number;
  initiationsReceived: number;
  responsesSent: number;
  responsesReceived: number;
  cookiesSent: number;
  cookiesReceived: number;
  /** Rejected handshake messages (and handshakes that could not be sent) by reason. */
  rejected: Record<string, number>;
}

/** What the handshake plane sends through (the data path). */
export interface HandshakeSender {
  /** Sends `len` bytes of slot `off` to `peer`'s endpoint; frees the slot. False without endpoint. */
  sendRaw(peer: number, off: number, len: number): boolean;
  /** Sends `len` bytes of slot `off` to the sockaddr at `nameOff`; frees the slot. */
  replyRaw(off: number, len: number, nameOff: number, nameLen: number): void;
  /** Encrypts and sends owned slots (staged packets, `lens[i]` = IP length) to `peer`. */
  sendOwned(peer: number, offs: ArrayLike<number>, lens: ArrayLike<number>, n: number): void;
  /** Sends a keepalive to `peer` now. */
  sendKeepalive(peer: number): void;
}

/** Options of {@link HandshakePlane}. */
export interface HandshakePlaneOptions {
  pool: SlabPool;
  plane: DataPlane;
  peers: PeerTable;
  /** The static identity (null: no private key). */
  local: LocalStatic | null;
  /** Monotonic clock (ms). */
  now: () => number;
  /** Looks endpoint host names up again while their handshakes go unanswered. */
  resolve?: Resolve;
}

/** Time between two "no answer" warnings for one peer. */
export const NO_ANSWER_WARN_MS = 30_000;

const log = logger("device");

/** Handshakes, cookies, key installation and the per-peer timers of one device. */
export class HandshakePlane implements DataHooks {
  readonly counters: HandshakeCounters = {
    initiationsSent: 0,
    initiationsReceived: 0,
    responsesSent: 0,
    responsesReceived: 0,
    cookiesSent: 0,
    cookiesReceived: 0,
    rejected: {},
  };
  readonly #pool: SlabPool;
  readonly #plane: DataPlane;
  readonly #peers: PeerTable;
  readonly #now: () => number;
  readonly #checker: CookieChecker;
  #local: LocalStatic | null;
  #path: HandshakeSender | undefined;
  readonly #flushOffs = new Uint32Array(STAGED_MAX);
  readonly #flushLens = new Uint32Array(STAGED_MAX);
  readonly #backlog = new HandshakeBacklog();
  readonly #run: RunHandshake = (msg, len, name, now) => {
    if (msg[0] === MESSAGE_INITIATION) this.#onInitiation(msg, len, name, now);
    else this.#onResponse(msg, len, name, now);
  };
  readonly #resolve: Resolve | undefined;
  readonly #rejections: RejectionLog;
  /** When each peer's timers next need a look (the device's tick reads it). */
  readonly schedule: PeerSchedule = new PeerSchedule();

  constructor(opts: HandshakePlaneOptions) {
    this.#pool = opts.pool;
    this.#plane = opts.plane;
    this.#peers = opts.peers;
    this.#now = opts.now;
    this.#resolve = opts.resolve;
    this.#rejections = new RejectionLog(this.counters.rejected, opts.now);
    const local = opts.local;
    this.#local = local === null ? null : {
      privateKey: new Uint8Array(local.privateKey),
      publicKey: new Uint8Array(local.publicKey),
    };
    this.#checker = new CookieChecker(this.#local === null ? null : this.#local.publicKey);
  }

  /** Where handshake messages, staged packets and keepalives are sent (the data path). */
  connect(path: HandshakeSender): void {
    this.#path = path;
  }

  #sender(): HandshakeSender {
    if (this.#path === undefined) throw new Error("HandshakePlane: connect(path) first");
    return this.#path;
  }

  /** The static identity, or null. */
  get local(): LocalStatic | null {
    return this.#local;
  }

  /** Initiations and responses waiting for their Noise work. */
  get backlog(): number {
    return this.#backlog.size;
  }

  /**
   * The handshake plane's share of a loop turn, after the sockets were drained: runs queued
   * initiations and responses, a bounded few (src/device/handshake_backlog.ts). Returns how many
   * ran; while the backlog is not empty the loop does not sleep.
   */
  turn(): number {
    return this.#backlog.turn(this.#now, this.#run);
  }

  // --- DataHooks ----------------------------------------------------------------------------

  /** Authenticated transport packets: timers, key confirmation, rekey after receive. */
  onReceived(peerId: number, kp: number, data: number): void {
    const peer = this.#peers.byId[peerId];
    if (peer === undefined) return;
    this.schedule.touch(peerId);
    const t = peer.timers;
    t.onAuthenticatedPacketReceived();
    // Twice for two or more, as per packet: the second flags needAnotherKeepalive.
    if (data > 0) t.onDataReceived();
    if (data > 1) t.onDataReceived();
    if (peer.keypairs.next !== null && peer.keypairs.received(kp)) {
      this.#handshakeDone(peer, false);
    }
    const cur = peer.keypairs.current;
    if (cur !== null && cur.slot === kp && t.rekeyAfterReceive(cur.created, cur.isInitiator)) {
      this.sendInitiation(peer);
    }
  }

  /** Transport packets went out: timers, and the rekey-after-send check at the next tick. */
  onSent(peerId: number, data: number): void {
    const peer = this.#peers.byId[peerId];
    if (peer === undefined) return;
    this.schedule.touch(peerId); // also the rekey-after-send check at the next tick
    peer.timers.onAuthenticatedPacketSent();
    if (data > 0) peer.timers.onDataSent();
    peer.sentSinceTick = true;
  }

  /** No send key: stage the packet (evicting the oldest when full) and ask for a handshake. */
  onNoKey(peerId: number, off: number, len: number): boolean {
    const peer = this.#peers.byId[peerId];
    if (peer === undefined) return false;
    this.schedule.touch(peerId);
    const evicted = peer.staged.push(off, len);
    if (evicted !== 0) this.#pool.tryFree(evicted);
    if (peer.timers.requestInitiation(false)) this.sendInitiation(peer);
    return true;
  }

  /**
   * A handshake or cookie message at `off` from the sockaddr at `nameOff`: the cheap checks now
   * (cookie replies are consumed at once), the Noise work of initiations and responses queued
   * for {@link turn}.
   */
  onHandshakeMessage(off: number, len: number, nameOff: number): void {
    const now = this.#now();
    if (!this.#backlog.admit(now)) return this.reject("overload");
    const pool = this.#pool;
    const msg = new Uint8Array(pool.memory.buffer, off, len);
    const type = msg[0];
    const src = decodeEndpoint(pool.u8, nameOff);
    if (type === MESSAGE_COOKIE_REPLY) {
      const peer = this.#peers.indices.get(readU32LE(msg, 4));
      if (peer === undefined || !peer.cookies.consumeReply(msg, now, len)) {
        return this.reject("cookie_reply");
      }
      this.counters.cookiesReceived++;
      return;
    }
    if (type !== MESSAGE_INITIATION && type !== MESSAGE_RESPONSE) return; // decrypt said 1, 2, 3
    const verdict = this.#checker.check(
      msg,
      src.addr,
      src.port,
      this.#backlog.underLoad(now),
      now,
      len,
    );
    if (verdict === CookieVerdict.BAD_MAC1) return this.reject("bad_mac1");
    if (verdict === CookieVerdict.RATE_LIMITED) return this.reject("rate_limited");
    const nameLen = pool.dv.getUint16(nameOff, true) === 2 ? 16 : 28;
    if (verdict === CookieVerdict.SEND_COOKIE) {
      const slot = pool.allocSlot();
      if (slot === 0) return this.reject("pool_exhausted");
      const out = new Uint8Array(pool.memory.buffer, slot, 64);
      const n = this.#checker.createReply(
        new Uint8Array(pool.memory.buffer, off, len),
        src.addr,
        src.port,
        out,
        now,
      );
      this.#sender().replyRaw(slot, n, nameOff, nameLen);
      this.counters.cookiesSent++;
      return;
    }
    if (!this.#backlog.push(pool.u8, off, len, nameOff, nameLen)) this.reject("queue_full");
  }

  // --- Handshake messages -------------------------------------------------------------------

  /** Counts a rejection under its name; logged sparingly (src/device/rejection_log.ts). */
  reject(reason: string): void {
    this.#rejections.add(reason);
  }

  /** A queued initiation from the sockaddr `name`: the responder's Noise work. */
  #onInitiation(msg: Uint8Array, len: number, name: Uint8Array, now: number): void {
    this.counters.initiationsReceived++;
    const r = consumeInitiation(this.#local, msg, {
      lookup: (key) => this.#peers.byKey(key),
      now,
      length: len,
    });
    if (typeof r === "number") return this.reject(`initiation_${handshakeErrorName(r)}`);
    const peer = r;
    this.#plane.learnEndpoint(peer.id, name); // roaming: the endpoint follows the handshake
    this.schedule.touch(peer.id);
    peer.timers.onAuthenticatedPacketReceived();
    const slot = this.#allocSlot();
    if (slot === 0) return;
    const out = new Uint8Array(this.#pool.memory.buffer, slot, 92);
    const n = createResponse(peer.handshake, out, { indices: this.#peers.indexAllocator });
    if (n < 0) {
      this.#pool.tryFree(slot);
      return this.reject(`response_create_${handshakeErrorName(n)}`);
    }
    if (!this.#installKeys(peer)) {
      this.#pool.tryFree(slot);
      return;
    }
    // Installing the keys may grow the tables (memory.grow detaches `out`): a fresh view.
    peer.cookies.addMacs(new Uint8Array(this.#pool.memory.buffer, slot, 92), now, n);
    if (this.#sender().sendRaw(peer.id, slot, n)) {
      this.counters.responsesSent++;
      peer.timers.onAuthenticatedPacketSent();
    }
  }

  /** A queued response from the sockaddr `name`: the initiator's Noise work. */
  #onResponse(msg: Uint8Array, len: number, name: Uint8Array, now: number): void {
    this.counters.responsesReceived++;
    const r = consumeResponse(this.#local, msg, {
      lookup: (index) => this.#peers.indices.get(index),
      length: len,
    });
    if (typeof r === "number") return this.reject(`response_${handshakeErrorName(r)}`);
    const peer = r;
    this.#plane.learnEndpoint(peer.id, name);
    this.schedule.touch(peer.id);
    peer.timers.onAuthenticatedPacketReceived();
    if (!this.#installKeys(peer)) return;
    this.#handshakeDone(peer, true, now);
  }

  /** Derives the transport keys of a finished handshake into a data-plane keypair slot. */
  #installKeys(peer: DevicePeer): boolean {
    let derived: { localIndex: number; sendSlot: number } | undefined;
    const rc = this.#plane.installKeypair((keys) => {
      const info = deriveTransportKeys(peer.handshake, keys);
      if (typeof info === "number") {
        this.reject(`derive_${handshakeErrorName(info)}`);
        return null;
      }
      const up = peer.keypairs.add(info);
      derived = { localIndex: info.localIndex, sendSlot: up.sendSlot };
      return {
        kp: up.install.slot,
        peer: peer.id,
        localIndex: info.localIndex,
        remoteIndex: info.remoteIndex,
      };
    });
    if (rc === null || derived === undefined) return false;
    if (rc < 0) {
      log.error("ts_keypair_set refused ({reason}) for peer {peer}", {
        reason: dropReasonName(rc),
        peer: peer.name,
      });
      return false;
    }
    // The handshake's index now names the keypair.
    const indices = this.#peers.indexAllocator;
    indices.release(derived.localIndex);
    indices.claim(derived.localIndex, peer);
    this.#plane.setSendKeypair(peer.id, derived.sendSlot);
    peer.timers.onKeypairDerived();
    return true;
  }

  /** A handshake completed: send what waited, or a keepalive to confirm the keys. */
  #handshakeDone(peer: DevicePeer, initiator: boolean, now = this.#now()): void {
    this.#plane.setSendKeypair(peer.id, peer.keypairs.sendSlot());
    peer.timers.onHandshakeComplete();
    peer.handshakes++;
    peer.noAnswerWarnedAt = -Infinity;
    log.info("Handshake complete with {peer} as {role}", {
      peer: peer.name,
      role: initiator ? "initiator" : "responder",
      rttMs: initiator && peer.initiationSentAt > -Infinity
        ? +(now - peer.initiationSentAt).toFixed(3)
        : undefined,
      endpoint: this.#peers.endpointText(peer),
    });
    if (peer.staged.size > 0) this.#flushStaged(peer);
    else if (initiator) this.sendKeepalive(peer);
  }

  #allocSlot(): number {
    const slot = this.#pool.allocSlot();
    if (slot === 0) this.reject("pool_exhausted");
    return slot;
  }

  /** Sends a handshake initiation to `peer` now (if it has an endpoint and a slot is free). */
  sendInitiation(peer: DevicePeer): void {
    if (this.#plane.endpointLen(peer.id) === 0) {
      this.reject("no_endpoint");
      return;
    }
    const slot = this.#allocSlot();
    if (slot === 0) return;
    const out = new Uint8Array(this.#pool.memory.buffer, slot, 148);
    const n = createInitiation(peer.handshake, out, { indices: this.#peers.indexAllocator });
    if (n < 0) {
      this.#pool.tryFree(slot);
      return this.reject(`initiation_create_${handshakeErrorName(n)}`);
    }
    const now = this.#now();
    peer.cookies.addMacs(out, now, n);
    const retry = peer.timers.handshakeAttempts > 0;
    if (this.#sender().sendRaw(peer.id, slot, n)) {
      this.counters.initiationsSent++;
      peer.initiationSentAt = now;
      log.debug("Handshake initiation sent to {peer} at {endpoint}", {
        peer: peer.name,
        endpoint: this.#peers.endpointText(peer),
        attempt: peer.timers.handshakeAttempts + 1,
      });
    }
    peer.timers.onInitiationSent();
    this.schedule.touch(peer.id);
    if (retry && now - peer.noAnswerWarnedAt >= NO_ANSWER_WARN_MS) {
      peer.noAnswerWarnedAt = now;
      log.warning("No answer to the handshake with {peer} at {endpoint} ({attempts} attempts)", {
        peer: peer.name,
        endpoint: this.#peers.endpointText(peer),
        attempts: peer.timers.handshakeAttempts + 1,
      });
    }
    const host = peer.endpointHost;
    if (host !== null && this.#resolve !== undefined) {
      if (host.due(now, retry, peer.timers.lastHandshake)) {
        refreshEndpoint(peer, host, now, this.#resolve, this.#peers, (p) => this.sendInitiation(p));
      }
    }
  }

  // --- Staged packets and keepalives --------------------------------------------------------

  #flushStaged(peer: DevicePeer): void {
    const n = peer.staged.drainInto(this.#flushOffs, this.#flushLens);
    this.#sender().sendOwned(peer.id, this.#flushOffs, this.#flushLens, n);
  }

  /** A keepalive now, or, without a key, a handshake first. */
  sendKeepalive(peer: DevicePeer): void {
    if (peer.keypairs.current === null) {
      if (peer.timers.requestInitiation(false)) this.sendInitiation(peer);
      return;
    }
    this.#sender().sendKeepalive(peer.id);
  }

  /** Frees the peer's staged packets. */
  dropStaged(peer: DevicePeer): void {
    const n = peer.staged.drainInto(this.#flushOffs, this.#flushLens);
    for (let i = 0; i < n; i++) this.#pool.tryFree(this.#flushOffs[i]);
  }

  // --- Peers' lifecycle and timers ----------------------------------------------------------

  /** A peer just added: its timers run, and a persistent keepalive goes out at once. */
  startPeer(peer: DevicePeer): void {
    peer.timers.start();
    this.schedule.touch(peer.id);
    if (peer.timers.persistentKeepalive > 0) this.sendKeepalive(peer);
  }

  /** Drops the peer's staged packets and wipes its keys and handshake; its timers stop. */
  stopPeer(peer: DevicePeer): void {
    this.dropStaged(peer);
    peer.keypairs.clear();
    peer.handshake.clear(this.#peers.indexAllocator);
    peer.timers.stop();
    this.schedule.forget(peer.id);
  }

  /** Sets the persistent keepalive (s, 0 = off); a keepalive goes out at once when it turns on. */
  setPersistentKeepalive(peer: DevicePeer, seconds: number): void {
    this.schedule.touch(peer.id);
    if (peer.timers.setPersistentKeepalive(seconds)) this.sendKeepalive(peer);
  }

  /**
   * Runs the peer's due timers and expires its keypairs past REJECT_AFTER_TIME; returns its next
   * deadline.
   */
  tickPeer(peer: DevicePeer, now: number): number {
    const t = peer.timers;
    if (t.nextDeadline() <= now) this.#act(peer, t.poll(now));
    const kps = peer.keypairs;
    this.#expire(kps.previous, now);
    this.#expire(kps.current, now);
    this.#expire(kps.next, now);
    // wireguard-go checks key freshness after each send; per tick is the same within 10 ms.
    const cur = kps.current;
    if (peer.sentSinceTick && cur !== null) {
      peer.sentSinceTick = false;
      const sendCounter = this.#plane.sendCounter(cur.slot);
      if (t.rekeyAfterSend(cur.created, cur.isInitiator, sendCounter)) this.sendInitiation(peer);
    }
    // The next look: a timer, or a keypair reaching REJECT_AFTER_TIME (not yet past).
    return Math.min(
      t.nextDeadline(),
      expiry(kps.previous, now),
      expiry(kps.current, now),
      expiry(kps.next, now),
    );
  }

  /** Past REJECT_AFTER_TIME a keypair neither sends nor receives. */
  #expire(kp: KeypairInfo | null, now: number): void {
    if (kp !== null && now - kp.created >= REJECT_AFTER_TIME_MS) this.#plane.expireKeypair(kp.slot);
  }

  #act(peer: DevicePeer, actions: number): void {
    if (actions & TimerAction.SEND_INITIATION) this.sendInitiation(peer);
    if (actions & TimerAction.SEND_KEEPALIVE) {
      if (peer.staged.size > 0) this.#flushStaged(peer);
      else this.sendKeepalive(peer);
    }
    if (actions & TimerAction.GIVE_UP) {
      this.dropStaged(peer);
      log.warning("Handshake with {peer} did not complete after {attempts} attempts; giving up", {
        peer: peer.name,
        attempts: peer.timers.handshakeAttempts,
      });
    }
    if (actions & TimerAction.ZERO_KEY_MATERIAL) {
      peer.keypairs.clear();
      peer.handshake.clear(this.#peers.indexAllocator);
      this.#plane.setSendKeypair(peer.id, -1);
      this.dropStaged(peer);
    }
  }

  // --- The static identity ------------------------------------------------------------------

  /**
   * Changes the static private key (null or all zero clears it). As wireguard-go: every peer's
   * handshake is reset and its keypairs expire, so new handshakes follow. Returns the peers whose
   * public key equals the new one (the caller removes them), or null if the key did not change.
   */
  setPrivateKey(key: Uint8Array | null): DevicePeer[] | null {
    const zero = key === null || key.every((b) => b === 0);
    const local = zero ? null : { privateKey: new Uint8Array(key), publicKey: publicKey(key) };
    const old = this.#local;
    if (old !== null && local !== null && bytesEqual(old.privateKey, local.privateKey)) return null;
    this.#local = local;
    this.#checker.setLocalPublic(local === null ? null : local.publicKey);
    const self: DevicePeer[] = [];
    for (const peer of this.#peers.list()) {
      if (local !== null && bytesEqual(peer.publicKey, local.publicKey)) {
        self.push(peer);
        continue;
      }
      peer.handshake.clear(this.#peers.indexAllocator);
      peer.handshake.setLocalStatic(local);
      const kps = peer.keypairs;
      for (const kp of [kps.previous, kps.current, kps.next]) {
        if (kp !== null) this.#plane.expireKeypair(kp.slot);
      }
    }
    return self;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** When `kp` reaches REJECT_AFTER_TIME, if that is still ahead; else Infinity. */
function expiry(kp: KeypairInfo | null, now: number): number {
  if (kp === null) return Infinity;
  const at = kp.created + REJECT_AFTER_TIME_MS;
  return at > now ? at : Infinity;
}
