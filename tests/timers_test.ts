import assert from "node:assert/strict";
import {
  keypairUsableForReceive,
  keypairUsableForSend,
  MAX_TIMER_HANDSHAKES,
  PeerTimers,
  REJECT_AFTER_MESSAGES,
  REKEY_AFTER_MESSAGES,
  TimerAction,
} from "../src/wg/timers.ts";

const { SEND_INITIATION, SEND_KEEPALIVE, ZERO_KEY_MATERIAL, GIVE_UP, CLEAR_ENDPOINT_SRC } =
  TimerAction;

/** A PeerTimers on a manual clock. */
function make(jitter: (() => number) | null = () => 0) {
  const clock = { t: 1_000_000 };
  const timers = new PeerTimers({
    now: () => clock.t,
    jitter: jitter ?? undefined,
    wallClock: () => 1_700_000_000_000 + clock.t,
  });
  timers.start();
  return { clock, timers };
}

/** Advances to the next deadline and polls it. */
function fireNext(clock: { t: number }, timers: PeerTimers): number {
  const d = timers.nextDeadline();
  assert.ok(Number.isFinite(d), "a timer should be armed");
  clock.t = d;
  return timers.poll(d);
}

Deno.test("constants: 18 handshake attempts; counters as bigint", () => {
  assert.equal(MAX_TIMER_HANDSHAKES, 18);
  assert.equal(REKEY_AFTER_MESSAGES, 2n ** 60n);
  assert.equal(REJECT_AFTER_MESSAGES, 2n ** 64n - 2n ** 13n - 1n);
});

Deno.test("retransmitHandshake = 5 s + jitter in [0, 334) ms", () => {
  const { clock, timers } = make(() => 333);
  assert.equal(timers.requestInitiation(), true);
  timers.onInitiationSent();
  assert.equal(timers.nextDeadline(), clock.t + 5333);
  assert.equal(timers.poll(clock.t + 5332), 0);
  assert.equal(timers.poll(clock.t + 5333), SEND_INITIATION | CLEAR_ENDPOINT_SRC);
  assert.equal(timers.handshakeAttempts, 1);

  // Default jitter stays inside the bounds.
  let seenNonZero = false;
  for (let i = 0; i < 300; i++) {
    const m = make(null); // default random jitter
    m.timers.onInitiationSent();
    const d = m.timers.nextDeadline() - m.clock.t;
    assert.ok(d >= 5000 && d < 5334, `deadline offset ${d}`);
    if (d !== 5000) seenNonZero = true;
  }
  assert.ok(seenNonZero, "jitter is random");
});

Deno.test("give up after 18 retries (20 initiations): flush, cancel keepalive, zero keys 540 s later", () => {
  const { clock, timers } = make(() => 100);
  assert.equal(timers.requestInitiation(), true);
  timers.onInitiationSent();
  timers.onDataReceived(); // a pending sendKeepalive, which giving up cancels
  let resends = 0;
  for (;;) {
    const d = timers.deadlines();
    clock.t = d.retransmitHandshake;
    const a = timers.poll(clock.t);
    if (a & GIVE_UP) {
      assert.equal(a & SEND_INITIATION, 0);
      break;
    }
    assert.equal(
      a & (SEND_INITIATION | CLEAR_ENDPOINT_SRC),
      SEND_INITIATION | CLEAR_ENDPOINT_SRC,
      `retry ${resends}`,
    );
    resends++;
    timers.onInitiationSent(); // the device sent it
    if (resends === 1) {
      assert.equal(timers.deadlines().sendKeepalive, Infinity, "sending cancels sendKeepalive");
    }
    timers.onDataReceived(); // keep one armed to see GIVE_UP cancel it
    assert.ok(resends < 100);
  }
  assert.equal(resends, MAX_TIMER_HANDSHAKES + 1);
  assert.equal(timers.handshakeAttempts, MAX_TIMER_HANDSHAKES + 1);
  const d = timers.deadlines();
  assert.equal(d.retransmitHandshake, Infinity);
  assert.equal(d.sendKeepalive, Infinity);
  assert.equal(d.zeroKeyMaterial, clock.t + 540_000);
  const giveUpAt = clock.t;
  assert.equal(fireNext(clock, timers), ZERO_KEY_MATERIAL);
  assert.equal(clock.t - giveUpAt, 540_000);
  assert.equal(timers.nextDeadline(), Infinity);
});

Deno.test("giving up keeps an already pending zeroKeyMaterial", () => {
  const { clock, timers } = make();
  timers.onKeypairDerived();
  const zeroAt = timers.deadlines().zeroKeyMaterial;
  timers.handshakeAttempts = MAX_TIMER_HANDSHAKES + 1;
  timers.onInitiationSent();
  clock.t += 5000;
  assert.equal(timers.poll(clock.t), GIVE_UP);
  assert.equal(timers.deadlines().zeroKeyMaterial, zeroAt);
});

Deno.test("handshake complete stops retransmits, resets attempts, records the time", () => {
  const { clock, timers } = make();
  timers.requestInitiation();
  timers.onInitiationSent();
  clock.t += 5000;
  timers.poll(clock.t);
  timers.onInitiationSent();
  assert.equal(timers.handshakeAttempts, 1);
  clock.t += 100;
  timers.onHandshakeComplete();
  assert.equal(timers.handshakeAttempts, 0);
  assert.equal(timers.deadlines().retransmitHandshake, Infinity);
  assert.equal(timers.lastHandshake, clock.t);
  assert.equal(timers.lastHandshakeWallMs, 1_700_000_000_000 + clock.t);
  assert.equal(timers.nextDeadline(), Infinity);
});

Deno.test("initiations are spaced by REKEY_TIMEOUT (5 s); a non-retry resets attempts", () => {
  const { clock, timers } = make();
  assert.equal(timers.requestInitiation(), true);
  assert.equal(timers.requestInitiation(), false);
  clock.t += 4999;
  assert.equal(timers.requestInitiation(), false);
  clock.t += 1;
  timers.handshakeAttempts = 7;
  assert.equal(timers.requestInitiation(true), true);
  assert.equal(timers.handshakeAttempts, 7, "a retry keeps the count");
  clock.t += 5000;
  assert.equal(timers.requestInitiation(false), true);
  assert.equal(timers.handshakeAttempts, 0);
});

Deno.test("sendKeepalive 10 s after receiving data; cancelled by any send; needAnotherKeepalive", () => {
  const { clock, timers } = make();
  const t0 = clock.t;
  timers.onAuthenticatedPacketReceived();
  timers.onDataReceived();
  assert.equal(timers.nextDeadline(), t0 + 10_000);
  assert.equal(timers.poll(t0 + 9_999), 0);
  assert.equal(timers.poll(t0 + 10_000), SEND_KEEPALIVE);
  assert.equal(timers.nextDeadline(), Infinity);

  // A reply sent in the meantime makes the keepalive unnecessary.
  clock.t = t0 + 20_000;
  timers.onDataReceived();
  clock.t += 3000;
  timers.onAuthenticatedPacketSent();
  assert.equal(timers.poll(t0 + 40_000), 0);

  // More data while one is pending → one more keepalive 10 s after the first.
  clock.t = t0 + 50_000;
  timers.onDataReceived();
  clock.t += 1000;
  timers.onDataReceived();
  assert.equal(timers.needAnotherKeepalive, true);
  assert.equal(timers.deadlines().sendKeepalive, t0 + 60_000, "not pushed back");
  assert.equal(timers.poll(t0 + 60_000), SEND_KEEPALIVE);
  assert.equal(timers.needAnotherKeepalive, false);
  assert.equal(timers.deadlines().sendKeepalive, t0 + 70_000);
  assert.equal(timers.poll(t0 + 70_000), SEND_KEEPALIVE);
  assert.equal(timers.nextDeadline(), Infinity);
});

Deno.test("persistent keepalive: N s after any authenticated packet sent or received", () => {
  const { clock, timers } = make();
  assert.equal(timers.setPersistentKeepalive(25), true, "off → on: send one now");
  assert.equal(timers.setPersistentKeepalive(30), false, "on → on");
  assert.equal(timers.persistentKeepalive, 30);
  timers.onAuthenticatedPacketSent();
  const t0 = clock.t;
  assert.equal(timers.nextDeadline(), t0 + 30_000);
  clock.t += 10_000;
  timers.onAuthenticatedPacketReceived();
  assert.equal(timers.nextDeadline(), t0 + 40_000, "re-armed by traffic");
  assert.equal(timers.poll(t0 + 40_000), SEND_KEEPALIVE);
  clock.t = t0 + 40_000;
  timers.onAuthenticatedPacketSent(); // the keepalive itself re-arms it
  assert.equal(timers.nextDeadline(), t0 + 70_000);
  assert.equal(timers.setPersistentKeepalive(0), false);
  assert.equal(timers.nextDeadline(), Infinity);
  timers.onAuthenticatedPacketSent();
  assert.equal(timers.nextDeadline(), Infinity, "off stays off");
  assert.throws(() => timers.setPersistentKeepalive(65536), RangeError);
});

Deno.test("rekey after 120 s only when we initiated the keypair; 2^60 messages for both", () => {
  const { clock, timers } = make();
  const created = clock.t;
  clock.t = created + 120_000;
  assert.equal(timers.rekeyAfterSend(created, true, 10), false, "exactly 120 s: not yet");
  clock.t = created + 120_001;
  assert.equal(timers.rekeyAfterSend(created, false, 10), false, "responder never rekeys on time");
  assert.equal(timers.rekeyAfterSend(created, true, 10), true);
  assert.equal(timers.rekeyAfterSend(created, true, 11), false, "5 s spacing");
  clock.t += 5000;
  assert.equal(timers.rekeyAfterSend(created, true, 12), true);
  clock.t += 5000;
  assert.equal(timers.rekeyAfterSend(clock.t, false, 2 ** 60 + 2 ** 10), true, "message limit");
});

Deno.test("the 165 s last-minute handshake on receive, once, initiator only", () => {
  const { clock, timers } = make();
  const created = clock.t;
  clock.t = created + 165_000;
  assert.equal(timers.rekeyAfterReceive(created, true), false);
  clock.t = created + 165_001;
  assert.equal(timers.rekeyAfterReceive(created, false), false);
  assert.equal(timers.rekeyAfterReceive(created, true), true);
  assert.equal(timers.sentLastMinuteHandshake, true);
  clock.t += 10_000;
  assert.equal(timers.rekeyAfterReceive(created, true), false, "only once");
  timers.onHandshakeComplete();
  assert.equal(timers.sentLastMinuteHandshake, false);
});

Deno.test("keypair usable for 180 s and below REJECT_AFTER_MESSAGES", () => {
  assert.equal(keypairUsableForSend(0, 0, 179_999), true);
  assert.equal(keypairUsableForSend(0, 0, 180_000), false);
  assert.equal(keypairUsableForSend(0, Number(REJECT_AFTER_MESSAGES), 1), false);
  assert.equal(keypairUsableForReceive(0, 0, 180_000), true);
  assert.equal(keypairUsableForReceive(0, 0, 180_001), false);
  assert.equal(keypairUsableForReceive(0, 2 ** 64, 1), false);
});

Deno.test("zeroKeyMaterial 540 s after the last keypair derivation", () => {
  const { clock, timers } = make();
  const t0 = clock.t;
  timers.onKeypairDerived();
  clock.t += 100_000;
  timers.onKeypairDerived();
  assert.equal(timers.nextDeadline(), t0 + 640_000);
  assert.equal(timers.poll(t0 + 639_999), 0);
  assert.equal(timers.poll(t0 + 640_000), ZERO_KEY_MATERIAL);
});

Deno.test("newHandshake 15 s + jitter after sending data without hearing back", () => {
  const { clock, timers } = make(() => 200);
  const t0 = clock.t;
  timers.onDataSent();
  clock.t += 3000;
  timers.onDataSent(); // does not push it back
  assert.equal(timers.nextDeadline(), t0 + 15_200);
  assert.equal(timers.poll(t0 + 15_199), 0);
  assert.equal(timers.poll(t0 + 15_200), SEND_INITIATION | CLEAR_ENDPOINT_SRC);

  // Hearing anything authenticated from the peer cancels it.
  clock.t = t0 + 100_000;
  timers.onDataSent();
  clock.t += 14_000;
  timers.onAuthenticatedPacketReceived();
  assert.equal(timers.poll(t0 + 200_000), 0);

  // Within 5 s of the previous initiation it only clears the source address.
  clock.t = t0 + 300_000;
  assert.equal(timers.requestInitiation(), true);
  timers.onDataSent();
  timers.lastInitiationSent = t0 + 300_000 + 15_000; // pretend one just left
  assert.equal(timers.poll(t0 + 315_200), CLEAR_ENDPOINT_SRC);
});

Deno.test("stopped timers ignore events and fire nothing", () => {
  const { clock, timers } = make();
  timers.setPersistentKeepalive(10);
  timers.onDataSent();
  timers.onDataReceived();
  timers.onKeypairDerived();
  timers.onInitiationSent();
  timers.onAuthenticatedPacketSent();
  assert.ok(Number.isFinite(timers.nextDeadline()));
  timers.stop();
  assert.equal(timers.running, false);
  assert.equal(timers.nextDeadline(), Infinity);
  assert.equal(timers.poll(clock.t + 1e9), 0);
  timers.onDataSent();
  timers.onDataReceived();
  timers.onInitiationSent();
  assert.deepEqual(timers.deadlines(), {
    retransmitHandshake: Infinity,
    sendKeepalive: Infinity,
    newHandshake: Infinity,
    zeroKeyMaterial: Infinity,
    persistentKeepalive: Infinity,
  });
  timers.start();
  timers.onDataReceived();
  assert.equal(timers.nextDeadline(), clock.t + 10_000);
});

Deno.test("several timers due in one poll are all reported", () => {
  const { clock, timers } = make();
  timers.setPersistentKeepalive(1);
  timers.onDataReceived();
  timers.onAuthenticatedPacketReceived();
  timers.onKeypairDerived();
  assert.equal(timers.poll(clock.t + 600_000), SEND_KEEPALIVE | ZERO_KEY_MATERIAL);
});
