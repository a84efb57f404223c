/**
 * replay: the replay window driven through the ABI. One keypair; keepalives
 * with chosen counters sealed in TypeScript (@noble/ciphers) go through
 * `ts_decrypt_batch`; accepted = `lens 0` with the peer set, refused =
 * `E_REPLAY` (or `E_AUTH` for a forged tag, which must not move the window).
 *
 * The fixed table is wireguard-go's replay/replay_test.go (itself the Linux
 * kernel's): tunslab's window is the same (128 blocks of 64 bits, 8128
 * counters behind the highest), so the table's T_LIM = window + 1 = 8129 and
 * the six bulk tests carry over as they are. The random part compares
 * against {@link ReplayModel}.
 * @module
 */
import { deepStrictEqual, equal } from "node:assert/strict";
import { codeEq, E_AUTH, E_REPLAY, REJECT_AFTER_MESSAGES, REPLAY_WINDOW } from "../abi.ts";
import { joinBlobs, Reader, splitBlobs, Writer } from "../bytes.ts";
import { PoolCtx } from "../pool_ctx.ts";
import { ReplayModel, sealTransport } from "../transport_model.ts";
import type { Target } from "../harness.ts";

const KP = 11, PEER = 5, LOCAL = 0x51ab, REMOTE = 0x77;
const KEY = new Uint8Array(32).map((_, i) => (i * 131 + 3) & 0xff);
const BATCH = 128;
const OP_VALID = 0, OP_FORGED = 1, OP_RESET = 2;

interface Ctx {
  c: PoolCtx;
  offs: number;
  lens: number;
  peers: number;
  kps: number;
  keys: number;
  info: number;
}

function reset(ctx: Ctx): void {
  ctx.c.u8.fill(0x33, ctx.keys, ctx.keys + 32);
  ctx.c.u8.set(KEY, ctx.keys + 32);
  equal(ctx.c.wasm.ts_keypair_set(KP, PEER, LOCAL, REMOTE, ctx.keys), 0, "ts_keypair_set");
}

/** Feeds `ops` (no resets) in batches; returns each result (lens[i]) and checks peers/kps. */
function feed(ctx: Ctx, ops: { counter: bigint; forged: boolean }[]): number[] {
  const { c } = ctx;
  const out: number[] = [];
  for (let at = 0; at < ops.length; at += BATCH) {
    const part = ops.slice(at, at + BATCH);
    const n = part.length;
    const slots = c.alloc(ctx.offs, n);
    try {
      const mem = c.wasm.memory.buffer;
      const lens = new Uint32Array(mem, ctx.lens, n);
      part.forEach(({ counter, forged }, i) => {
        const m = sealTransport(KEY, LOCAL, counter, new Uint8Array(0));
        if (forged) m[16 + (i % 16)] ^= 0x40;
        c.u8.set(m, slots[i]);
        lens[i] = m.length;
      });
      const auth = c.wasm.ts_decrypt_batch(ctx.offs, ctx.lens, ctx.peers, ctx.kps, 0, 0, n);
      const res = [...new Int32Array(c.wasm.memory.buffer, ctx.lens, n)];
      const peers = [...new Int32Array(c.wasm.memory.buffer, ctx.peers, n)];
      equal(auth, res.filter((r) => r === 0).length, "return value = accepted keepalives");
      res.forEach((r, i) =>
        equal(peers[i], r === 0 ? PEER : -1, `peer of counter ${part[i].counter}`)
      );
      out.push(...res);
    } finally {
      c.free(ctx.offs, slots);
    }
  }
  return out;
}

function info(ctx: Ctx): number[] {
  equal(ctx.c.wasm.ts_keypair_info(KP, ctx.info), 1);
  return [...new Float64Array(ctx.c.wasm.memory.buffer, ctx.info, 4)];
}

/** wireguard-go's TestReplay: [counter, accepted] per T(n, expected) call, by test group. */
function wireguardGoTable(): { name: string; cases: [bigint, boolean][] }[] {
  const W = REPLAY_WINDOW;
  const T_LIM = W + 1n;
  const R = REJECT_AFTER_MESSAGES;
  // deno-fmt-ignore
  const main: [bigint, boolean][] = [
    [0n, true],                          // 1
    [1n, true],                          // 2
    [1n, false],                         // 3
    [9n, true],                          // 4
    [8n, true],                          // 5
    [7n, true],                          // 6
    [7n, false],                         // 7
    [T_LIM, true],                       // 8
    [T_LIM - 1n, true],                  // 9
    [T_LIM - 1n, false],                 // 10
    [T_LIM - 2n, true],                  // 11
    [2n, true],                          // 12
    [2n, false],                         // 13
    [T_LIM + 16n, true],                 // 14
    [3n, false],                         // 15
    [T_LIM + 16n, false],                // 16
    [T_LIM * 4n, true],                  // 17
    [T_LIM * 4n - (T_LIM - 1n), true],   // 18
    [10n, false],                        // 19
    [T_LIM * 4n - T_LIM, false],         // 20
    [T_LIM * 4n - (T_LIM + 1n), false],  // 21
    [T_LIM * 4n - (T_LIM - 2n), true],   // 22
    [T_LIM * 4n + 1n - T_LIM, false],    // 23
    [0n, false],                         // 24
    [R, false],                          // 25
    [R - 1n, true],                      // 26
    [R, false],                          // 27
    [R - 1n, false],                     // 28
    [R - 2n, true],                      // 29
    [R + 1n, false],                     // 30
    [R + 2n, false],                     // 31
    [R - 2n, false],                     // 32
    [R - 3n, true],                      // 33
    [0n, false],                         // 34
  ];
  const range = (from: bigint, to: bigint, step: bigint): [bigint, boolean][] => {
    const r: [bigint, boolean][] = [];
    for (let i = from; step > 0n ? i <= to : i >= to; i += step) r.push([i, true]);
    return r;
  };
  return [
    { name: "table", cases: main },
    { name: "bulk 1", cases: [...range(1n, W, 1n), [0n, true], [0n, false]] },
    { name: "bulk 2", cases: [...range(2n, W + 1n, 1n), [1n, true], [0n, false]] },
    { name: "bulk 3", cases: range(W + 1n, 1n, -1n) },
    { name: "bulk 4", cases: [...range(W + 2n, 2n, -1n), [0n, false]] },
    { name: "bulk 5", cases: [...range(W, 1n, -1n), [W + 1n, true], [0n, false]] },
    { name: "bulk 6", cases: [...range(W, 1n, -1n), [0n, true], [W + 1n, true]] },
  ];
}

export const replay: Target<Ctx> = {
  name: "replay",
  maxStepMs: 5000,
  setup() {
    const c = new PoolCtx({ chunkSlots: 128, maxSlots: 512 });
    const s = (n: number) => c.pool.scratch(n);
    return {
      c,
      offs: s(4 * BATCH),
      lens: s(4 * BATCH),
      peers: s(4 * BATCH),
      kps: s(4 * BATCH),
      keys: s(64),
      info: s(32),
    };
  },
  inUse: (ctx) => ctx.c.inUse(),
  fixed(ctx) {
    for (const { name, cases } of wireguardGoTable()) {
      reset(ctx);
      const res = feed(ctx, cases.map(([counter]) => ({ counter, forged: false })));
      cases.forEach(([counter, ok], k) => {
        codeEq(
          res[k],
          ok ? 0 : E_REPLAY,
          `wireguard-go replay ${name}, test ${k + 1}: counter ${counter}`,
        );
      });
    }
  },
  generate(rng) {
    const ops: Uint8Array[] = [];
    const n = rng.chance(0.1) ? rng.int(200, 1500) : rng.int(1, 200);
    let hi = 0n;
    const seen: bigint[] = [];
    for (let i = 0; i < n; i++) {
      const k = rng.weighted([30, 8, 6, 6, 4, 3, 3, 2, 2, 1]);
      let c: bigint;
      switch (k) {
        case 0: // in order, a little reordering
          c = hi + BigInt(rng.int(-40, 64));
          break;
        case 1: // a duplicate
          c = seen.length > 0 ? rng.pick(seen) : 0n;
          break;
        case 2: // the window's edge
          c = hi - REPLAY_WINDOW + BigInt(rng.int(-2, 2));
          break;
        case 3: // a block boundary
          c = ((hi >> 6n) << 6n) + BigInt(rng.pick([-65, -64, -63, -1, 0, 1, 63, 64, 65]));
          break;
        case 4: // a lap of the ring (same block index)
          c = hi + BigInt(8192 * rng.int(1, 3) + rng.int(-2, 2));
          break;
        case 5: // a big jump
          c = hi + BigInt(rng.int(8000, 9000));
          break;
        case 6: // random 32-bit
          c = BigInt(rng.u32());
          break;
        case 7: // near the limit
          c = REJECT_AFTER_MESSAGES + BigInt(rng.int(-300, 3));
          break;
        case 8: // random 64-bit
          c = rng.u64();
          break;
        default:
          c = -1n;
      }
      if (c === -1n) {
        ops.push(new Writer().u8(OP_RESET).u64(0n).done());
        hi = 0n;
        seen.length = 0;
        continue;
      }
      if (c < 0n) c = 0n;
      if (c > (1n << 64n) - 1n) c = (1n << 64n) - 1n;
      const forged = rng.chance(0.08);
      ops.push(new Writer().u8(forged ? OP_FORGED : OP_VALID).u64(c).done());
      if (!forged && c < REJECT_AFTER_MESSAGES) {
        if (c > hi) hi = c;
        seen.push(c);
      }
    }
    return joinBlobs(new Uint8Array(0), ops);
  },
  split: splitBlobs,
  join: joinBlobs,
  check(ctx, input) {
    const ops = splitBlobs(input).records.map((r) => {
      const rd = new Reader(r);
      return { op: rd.u8() % 3, counter: rd.u64() };
    });
    reset(ctx);
    let model = new ReplayModel();
    let received = 0;
    let k = 0;
    while (k < ops.length) {
      if (ops[k].op === OP_RESET) {
        reset(ctx);
        model = new ReplayModel();
        received = 0;
        k++;
        continue;
      }
      let end = k;
      while (end < ops.length && ops[end].op !== OP_RESET && end - k < BATCH) end++;
      const part = ops.slice(k, end);
      const res = feed(ctx, part.map((o) => ({ counter: o.counter, forged: o.op === OP_FORGED })));
      part.forEach((o, i) => {
        let want: number;
        if (!model.check(o.counter)) want = E_REPLAY;
        else if (o.op === OP_FORGED) want = E_AUTH;
        else {
          model.accept(o.counter);
          received++;
          want = 0;
        }
        codeEq(
          res[i],
          want,
          `op ${k + i}: ${
            o.op === OP_FORGED ? "forged " : ""
          }counter ${o.counter} (highest ${model.last})`,
        );
      });
      const [, highest, rec] = info(ctx);
      deepStrictEqual(
        [highest, rec],
        [Number(model.last), received],
        `keypair info after op ${end - 1}`,
      );
      k = end;
    }
  },
};
