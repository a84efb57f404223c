/**
 * message_parse: datagrams of every type (handshakes of right and wrong
 * length, reserved bytes, garbage, transport messages to unknown and known
 * indices, sealed ones that authenticate, replay, fail the tag or carry bad
 * inner packets) through `ts_decrypt_batch` with no keypair, one keypair, or
 * an expired one. Model: ABI.md's checks in order (size, framing, index,
 * expiry, replay pre-check, tag, inner IP, AllowedIPs source).
 * @module
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import {
  BAD_PTR,
  codeEq,
  E_AUTH,
  E_BAD_ARG,
  E_BAD_MSG_LEN,
  E_BAD_TYPE,
  E_KEY_EXPIRED,
  E_NOT_ALLOWED,
  E_REPLAY,
  E_TOO_BIG,
  E_TRUNCATED,
  E_UNKNOWN_INDEX,
  HANDSHAKE,
  HEADROOM,
  REJECT_AFTER_MESSAGES,
  REPLAY_WINDOW,
  SLOT_SIZE,
} from "../abi.ts";
import { bytesEqual, hex, joinBlobs, Reader, splitBlobs, Writer } from "../bytes.ts";
import { ipModel, randomIp, validIp } from "../ip_model.ts";
import { countCodes, dropDelta, PoolCtx } from "../pool_ctx.ts";
import { openTransport, ReplayModel, sealTransport } from "../transport_model.ts";
import type { Rng } from "../rng.ts";
import type { Target } from "../harness.ts";

const MAX_N = 48;
const KP = 7, PEER = 3, OTHER = 4;
const LOCAL = 0x0badf00d, REMOTE = 0x1234;
const SEND_KEY = new Uint8Array(32).fill(0x5e);
const RECV_KEY = new Uint8Array(32).map((_, i) => (i * 29 + 7) & 0xff);
const SENTINEL = 0x5a5a5a5a;
/** Record flag: the slot pointer is inaccessible. */
const BAD_SLOT = 1;
const MODES = ["no keypair", "one keypair", "expired keypair"] as const;

interface Ctx {
  c: PoolCtx;
  offs: number;
  lens: number;
  peers: number;
  kps: number;
  keys: number;
  info: number;
}

/** AllowedIPs of the set-up: 10.3/16 and fd03::/32 → PEER, 10.4/16 → OTHER. */
function routeOf(src: Uint8Array): number {
  if (src.length === 4) {
    if (src[0] === 10 && src[1] === 3) return PEER;
    if (src[0] === 10 && src[1] === 4) return OTHER;
    return -1;
  }
  return src[0] === 0xfd && src[1] === 3 && src[2] === 0 && src[3] === 0 ? PEER : -1;
}

function innerPacket(rng: Rng): Uint8Array {
  const k = rng.weighted([8, 4, 2, 2, 3]);
  if (k === 4) return randomIp(rng);
  const v6 = k === 1;
  const src = v6 ? new Uint8Array([0xfd, 3, 0, 0, ...rng.bytes(12)]) : new Uint8Array([
    10,
    k === 2 ? 4 : k === 3 ? rng.int(0, 255) : 3,
    rng.int(0, 255),
    rng.int(0, 255),
  ]);
  const p = validIp(rng, { v6, src, payload: rng.size(100, 1900), pad: 0 });
  if (p.length > 1990) return p.slice(0, 1990);
  if (rng.chance(0.3)) {
    // WireGuard pads the plaintext with zeros to a multiple of 16.
    const padded = new Uint8Array(Math.min(2000, (p.length + 15) & ~15));
    padded.set(p);
    return padded;
  }
  return p;
}

function datagram(rng: Rng, counters: bigint[]): Uint8Array {
  const kind = rng.weighted([6, 6, 4, 3, 3, 8, 6, 20, 6, 4, 3]);
  switch (kind) {
    case 0: { // handshake of exact length
      const t = rng.int(1, 3);
      const d = rng.bytes([148, 92, 64][t - 1]);
      d.set([t, 0, 0, 0]);
      return d;
    }
    case 1: { // handshake of a wrong length
      const t = rng.int(1, 3);
      const want = [148, 92, 64][t - 1];
      const d = rng.bytes(Math.max(4, rng.pick([want - 1, want + 1, rng.int(4, 300), 32])));
      d.set([t, 0, 0, 0]);
      return d;
    }
    case 2: { // reserved bytes set
      const d = rng.bytes(rng.pick([148, 92, 64, 32, 100]));
      d[0] = rng.int(1, 4);
      d[1 + rng.below(3)] |= 1 << rng.below(8);
      return d;
    }
    case 3: // short
      return rng.bytes(rng.int(0, 5));
    case 4: // unknown type
      return rng.bytes(rng.size(64, 300));
    case 5: { // transport to a random or the known index, random bytes
      const d = rng.bytes(rng.chance(0.2) ? rng.int(4, 31) : rng.int(32, 400));
      d.set([4, 0, 0, 0]);
      if (d.length >= 8 && rng.chance(0.6)) new DataView(d.buffer).setUint32(4, LOCAL, true);
      return d;
    }
    case 6: // too big for a slot
      return new Writer().u32(4).u32(LOCAL).bytes(rng.bytes(rng.int(SLOT_SIZE - 7, SLOT_SIZE + 60)))
        .done();
    default: { // sealed under the receive key: fresh, replayed, huge or tampered counters
      let counter: bigint;
      const hi = counters.reduce((a, b) => (b > a && b < REJECT_AFTER_MESSAGES ? b : a), 0n);
      const ck = rng.weighted([12, 3, 2, 1, 1, 1]);
      if (ck === 1 && counters.length > 0) counter = rng.pick(counters);
      else if (ck === 2) counter = hi - REPLAY_WINDOW + BigInt(rng.int(-2, 2));
      else if (ck === 3) counter = REJECT_AFTER_MESSAGES + BigInt(rng.int(-2, 3));
      else if (ck === 4) counter = rng.chance(0.5) ? rng.u64() : hi + BigInt(rng.int(8000, 9000));
      else counter = hi + BigInt(rng.int(-150, 300));
      if (counter < 0n) counter = 0n;
      counters.push(counter);
      const pt = kind === 8 ? new Uint8Array(0) : innerPacket(rng);
      const d = sealTransport(RECV_KEY, rng.chance(0.95) ? LOCAL : rng.u32(), counter, pt);
      if (kind === 9) d[rng.int(16, d.length - 1)] ^= 1 << rng.below(8);
      if (kind === 10) d[rng.int(8, 15)] ^= 1 << rng.below(8); // the counter (part of the nonce)
      return d;
    }
  }
}

export const messageParse: Target<Ctx> = {
  name: "message_parse",
  maxStepMs: 3000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 64, maxSlots: 256 });
    const s = (n: number) => c.pool.scratch(n);
    const ctx = {
      c,
      offs: s(4 * MAX_N),
      lens: s(4 * MAX_N),
      peers: s(4 * MAX_N),
      kps: s(4 * MAX_N),
      keys: s(64),
      info: s(64),
    };
    const a = s(16);
    const route = (fam: number, bytes: number[], cidr: number, peer: number) => {
      c.u8.set(bytes, a);
      equal(c.wasm.ts_route_insert(fam, a, cidr, peer), 0, "route insert");
    };
    route(4, [10, 3, 0, 0], 16, PEER);
    route(4, [10, 4, 0, 0], 16, OTHER);
    route(6, [0xfd, 3, ...new Array(14).fill(0)], 32, PEER);
    return ctx;
  },
  inUse: (ctx) => ctx.c.inUse(),
  generate(rng) {
    const mode = rng.weighted([2, 6, 1]);
    const n = rng.int(1, MAX_N);
    const counters: bigint[] = [];
    const recs: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const flags = rng.chance(0.03) ? BAD_SLOT : 0;
      recs.push(new Writer().u8(flags).bytes(datagram(rng, counters)).done());
    }
    return joinBlobs(new Uint8Array([mode]), recs);
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const { c } = ctx;
    const { head, records } = splitBlobs(input);
    const mode = (head[0] ?? 0) % 3;
    const recs = records.slice(0, MAX_N).map((r) => ({ flags: new Reader(r).u8(), d: r.slice(1) }));
    const n = recs.length;
    // The keypair as the mode says; ts_keypair_set resets the window and received_packets.
    if (mode === 0) equal(c.wasm.ts_keypair_clear(KP), 0);
    else {
      c.u8.set(SEND_KEY, ctx.keys);
      c.u8.set(RECV_KEY, ctx.keys + 32);
      equal(c.wasm.ts_keypair_set(KP, PEER, LOCAL, REMOTE, ctx.keys), 0, "ts_keypair_set");
      if (mode === 2) equal(c.wasm.ts_keypair_expire(KP), 0, "ts_keypair_expire");
    }
    if (n === 0) return;
    equal(c.wasm.ts_peer_stats(PEER, ctx.info), 0);
    const statsBefore = [...new Float64Array(c.wasm.memory.buffer, ctx.info, 6)];
    const slots = c.alloc(ctx.offs, n);
    try {
      const u8 = c.u8;
      const mem = c.wasm.memory.buffer;
      const offs = new Uint32Array(mem, ctx.offs, n);
      const lens = new Uint32Array(mem, ctx.lens, n);
      new Int32Array(mem, ctx.peers, n).fill(SENTINEL);
      new Int32Array(mem, ctx.kps, n).fill(SENTINEL);
      const copies: Uint8Array[] = [];
      recs.forEach(({ flags, d }, i) => {
        u8.set(d.subarray(0, SLOT_SIZE), slots[i]);
        copies.push(u8.slice(slots[i], slots[i] + SLOT_SIZE));
        lens[i] = d.length;
        if (flags & BAD_SLOT) offs[i] = BAD_PTR;
      });

      // The model, datagram by datagram in batch order.
      const win = new ReplayModel();
      const want: { len: number; auth: boolean; plain?: Uint8Array }[] = [];
      let rxBytes = 0, lastKind = statsBefore[5];
      for (const { flags, d } of recs) {
        const w = (len: number, auth = false, plain?: Uint8Array) =>
          want.push({ len, auth, plain });
        // Too big for the small slot it is in; a range that is no slot is only as long as it
        // is (and an empty one always accessible).
        if (d.length > SLOT_SIZE && !(flags & BAD_SLOT)) w(E_TOO_BIG);
        else if (flags & BAD_SLOT && d.length > 0) w(E_BAD_ARG);
        else if (d.length < 4) w(E_TRUNCATED);
        else {
          const dv = new DataView(d.buffer, d.byteOffset, d.length);
          const type = dv.getUint32(0, true);
          if (type < 1 || type > 4) w(E_BAD_TYPE);
          else if (type < 4) w(d.length === [148, 92, 64][type - 1] ? HANDSHAKE : E_BAD_MSG_LEN);
          else if (d.length < 32) w(E_BAD_MSG_LEN);
          else if (mode === 0 || dv.getUint32(4, true) !== LOCAL) w(E_UNKNOWN_INDEX);
          else if (mode === 2) w(E_KEY_EXPIRED);
          else {
            const counter = dv.getBigUint64(8, true);
            const plain = win.check(counter) ? openTransport(RECV_KEY, d) : undefined;
            if (plain === undefined) w(E_REPLAY);
            else if (plain === null) w(E_AUTH);
            else {
              win.accept(counter);
              rxBytes += d.length;
              lastKind = plain.length === 0 ? 1 : 2;
              if (plain.length === 0) w(0, true, plain);
              else {
                const m = ipModel(plain);
                if (m.code < 0) w(m.code, true, plain);
                else w(routeOf(m.src) === PEER ? m.total : E_NOT_ALLOWED, true, plain);
              }
            }
          }
        }
      }

      const before = c.drops();
      const got = c.wasm.ts_decrypt_batch(ctx.offs, ctx.lens, ctx.peers, ctx.kps, 0, 0, n);
      const lensOut = [...new Int32Array(c.wasm.memory.buffer, ctx.lens, n)];
      const peersOut = [...new Int32Array(c.wasm.memory.buffer, ctx.peers, n)];
      const kpsOut = [...new Int32Array(c.wasm.memory.buffer, ctx.kps, n)];
      const after = c.u8;
      for (let i = 0; i < n; i++) {
        const at = `${MODES[mode]}, datagram ${i} (${recs[i].d.length} B, flags ${
          recs[i].flags
        }): ${hex(recs[i].d, 40)}`;
        codeEq(lensOut[i], want[i].len, at);
        deepStrictEqual(
          [peersOut[i], kpsOut[i]],
          want[i].auth ? [PEER, KP] : [-1, -1],
          `${at}: peers/kps`,
        );
        const off = slots[i];
        if (!want[i].auth) {
          // Nothing but an authenticated datagram is decrypted in place.
          equal(
            bytesEqual(after.slice(off, off + SLOT_SIZE), copies[i]),
            true,
            `${at}: slot changed`,
          );
        } else if (want[i].plain!.length > 0) {
          const p = want[i].plain!;
          equal(
            bytesEqual(after.slice(off + HEADROOM, off + HEADROOM + p.length), p),
            true,
            `${at}: plaintext at off+16`,
          );
        }
      }
      const nAuth = want.filter((x) => x.auth).length;
      equal(got, nAuth, "return value = authenticated datagrams");
      deepStrictEqual(
        dropDelta(before, c.drops()),
        countCodes(want.map((x) => x.len), [HANDSHAKE]),
        "drop counters per code",
      );
      const info = new Float64Array(c.wasm.memory.buffer, ctx.info, 6);
      if (mode === 0) {
        equal(c.wasm.ts_keypair_info(KP, ctx.info), 0);
        deepStrictEqual([...info.subarray(0, 4)], [0, 0, 0, -1], "empty keypair info");
      } else {
        equal(c.wasm.ts_keypair_info(KP, ctx.info), 1);
        deepStrictEqual(
          [info[1], info[2], info[3]],
          [Number(win.last), nAuth, PEER],
          "keypair info: highest counter, received packets, peer",
        );
      }
      equal(c.wasm.ts_peer_stats(PEER, ctx.info), 0);
      deepStrictEqual(
        [...new Float64Array(c.wasm.memory.buffer, ctx.info, 6)],
        [
          statsBefore[0] + rxBytes,
          statsBefore[1],
          statsBefore[2] + nAuth,
          statsBefore[3],
          statsBefore[4],
          lastKind,
        ],
        "peer stats: rx bytes (wire), tx, rx packets, tx, endpoint changes, last rx kind",
      );
    } finally {
      equal(c.free(ctx.offs, slots), n, "every slot freed once");
    }
  },
};
