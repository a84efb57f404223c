import assert from "node:assert/strict";
import {
  type KeypairInfo,
  KeypairRotation,
  type KeypairSlotAllocator,
} from "../src/wg/keypair_rotation.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  Handshake,
  randomIndexAllocator,
  type TransportKeysInfo,
} from "../src/wg/handshake.ts";
import { generatePrivateKey, publicKey } from "../src/wg/keys.ts";

/** Slot allocator recording what it was asked, like a device over the WASM keypair table. */
function slots(): KeypairSlotAllocator & { live: Set<number>; released: number[] } {
  const live = new Set<number>();
  const released: number[] = [];
  let next = 0;
  return {
    live,
    released,
    allocate() {
      const s = next++;
      live.add(s);
      return s;
    },
    release(kp: KeypairInfo) {
      assert.ok(live.delete(kp.slot), `double release of slot ${kp.slot}`);
      released.push(kp.slot);
    },
  };
}

const keys = (isInitiator: boolean, localIndex = 1, remoteIndex = 2) => ({
  isInitiator,
  localIndex,
  remoteIndex,
});
const slotOf = (kp: KeypairInfo | null) => (kp === null ? null : kp.slot);

Deno.test("initiator: new keypair is current at once; old current → previous; old previous released", () => {
  const s = slots();
  let t = 100;
  const rot = new KeypairRotation(s, { now: () => t });
  const u0 = rot.add(keys(true, 10, 20));
  assert.deepEqual(u0.install, {
    slot: 0,
    localIndex: 10,
    remoteIndex: 20,
    created: 100,
    isInitiator: true,
  });
  assert.deepEqual(u0.released, []);
  assert.equal(u0.sendSlot, 0);
  t = 200;
  const u1 = rot.add(keys(true, 11, 21));
  assert.equal(u1.sendSlot, 1);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [0, 1, null]);
  assert.equal(rot.current!.created, 200);
  const u2 = rot.add(keys(true));
  assert.deepEqual(u2.released.map((k) => k.slot), [0]);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [1, 2, null]);
  assert.deepEqual([...s.live].sort(), [1, 2]);
});

Deno.test("responder: new keypair waits in next; first packet on it promotes it", () => {
  const s = slots();
  const rot = new KeypairRotation(s, { now: () => 0 });
  const u0 = rot.add(keys(false));
  assert.equal(u0.sendSlot, -1, "responder must not send on an unconfirmed keypair");
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [null, null, 0]);
  assert.equal(rot.received(99), false);
  assert.equal(rot.received(0), true, "handshake complete");
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [null, 0, null]);
  assert.equal(rot.sendSlot(), 0);
  assert.equal(rot.received(0), false, "only once");

  // Rekey as responder: keep sending on the old current until confirmed.
  const u1 = rot.add(keys(false));
  assert.equal(u1.sendSlot, 0);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [null, 0, 1]);
  // A second initiation before confirmation replaces the waiting keypair.
  const u2 = rot.add(keys(false));
  assert.deepEqual(u2.released.map((k) => k.slot), [1]);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [null, 0, 2]);
  assert.equal(rot.received(0), false, "packets on current do not promote");
  assert.equal(rot.received(2), true);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [0, 2, null]);
  // Next rotation as responder releases previous.
  const u3 = rot.add(keys(false));
  assert.deepEqual(u3.released.map((k) => k.slot), [0]);
  assert.equal(rot.received(3), true);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [2, 3, null]);
  assert.deepEqual([...s.live].sort(), [2, 3]);
});

Deno.test("initiator while a responder keypair waits in next: next → previous, old current released", () => {
  const s = slots();
  const rot = new KeypairRotation(s, { now: () => 0 });
  rot.add(keys(true)); // 0 current
  rot.add(keys(true)); // 0 previous, 1 current
  rot.add(keys(false)); // responder: previous released (0), next = 2
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [null, 1, 2]);
  const u = rot.add(keys(true)); // our own initiation completed too
  assert.deepEqual(u.released.map((k) => k.slot), [1]);
  assert.deepEqual([slotOf(rot.previous), slotOf(rot.current), slotOf(rot.next)], [2, 3, null]);
  assert.equal(u.sendSlot, 3);
  assert.deepEqual(s.released, [0, 1]);
});

Deno.test("lookups and clear()", () => {
  const s = slots();
  const rot = new KeypairRotation(s, { now: () => 0 });
  rot.add(keys(true, 100, 1));
  rot.add(keys(true, 101, 2));
  rot.add(keys(false, 102, 3));
  assert.equal(rot.byLocalIndex(101)!.slot, 1);
  assert.equal(rot.byLocalIndex(102)!.slot, 2);
  assert.equal(rot.byLocalIndex(100), null, "released when the responder keypair arrived");
  assert.equal(rot.bySlot(2)!.localIndex, 102);
  assert.equal(rot.bySlot(7), null);
  const gone = rot.clear();
  assert.deepEqual(gone.map((k) => k.slot).sort(), [1, 2]);
  assert.equal(s.live.size, 0);
  assert.equal(rot.sendSlot(), -1);
  assert.deepEqual(rot.clear(), []);
});

Deno.test("with real handshakes: indices flow from deriveTransportKeys into the rotation", () => {
  const pa = generatePrivateKey();
  const pb = generatePrivateKey();
  const a = { privateKey: pa, publicKey: publicKey(pa) };
  const b = { privateKey: pb, publicKey: publicKey(pb) };
  const peerOfA = { handshake: new Handshake(a, b.publicKey) };
  const peerOfB = { handshake: new Handshake(b, a.publicKey) };
  const indices = randomIndexAllocator();
  const buf = new Uint8Array(148);
  createInitiation(peerOfA.handshake, buf, { indices });
  consumeInitiation(b, buf, { lookup: () => peerOfB, now: 0 });
  createResponse(peerOfB.handshake, buf, { indices });
  consumeResponse(a, buf.subarray(0, 92), { lookup: () => peerOfA });
  const rotA = new KeypairRotation(slots());
  const rotB = new KeypairRotation(slots());
  const ka = new Uint8Array(64);
  const kb = new Uint8Array(64);
  const ua = rotA.add(deriveTransportKeys(peerOfA.handshake, ka) as TransportKeysInfo);
  const ub = rotB.add(deriveTransportKeys(peerOfB.handshake, kb) as TransportKeysInfo);
  assert.equal(ua.sendSlot, ua.install.slot, "A sends at once (its keepalive confirms)");
  assert.equal(ub.sendSlot, -1, "B waits for A's first packet");
  assert.equal(ua.install.remoteIndex, ub.install.localIndex);
  assert.equal(rotB.byLocalIndex(ua.install.remoteIndex), ub.install);
  // A's keepalive arrives at B on B's keypair slot → promotion.
  assert.equal(rotB.received(ub.install.slot), true);
  assert.equal(rotB.sendSlot(), ub.install.slot);
});
