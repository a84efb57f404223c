import assert from "node:assert/strict";
import { COOKIE_REFRESH_TIME_MS, CookieGenerator } from "../src/wg/cookie_generator.ts";
import { CookieChecker, CookieVerdict } from "../src/wg/cookie_checker.ts";
import { RateLimiter } from "../src/wg/rate_limiter.ts";
import {
  consumeInitiation,
  createInitiation,
  Handshake,
  randomIndexAllocator,
} from "../src/wg/handshake.ts";
import { generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { COOKIE_REPLY, INITIATION, readU32LE } from "../src/wg/messages.ts";
import { hash, LABEL_MAC1, mac } from "../src/wg/primitives.ts";

function identity() {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKey(privateKey) };
}

/** An initiator A, a responder B, and a fresh real initiation from A to B. */
function setup() {
  const a = identity();
  const b = identity();
  const gen = new CookieGenerator(b.publicKey); // A's generator for messages to B
  const checker = new CookieChecker(b.publicKey); // B's checker
  const hsA = new Handshake(a, b.publicKey);
  const indices = randomIndexAllocator();
  const initiation = (now: number): Uint8Array => {
    const buf = new Uint8Array(148);
    createInitiation(hsA, buf, { indices });
    gen.addMacs(buf, now);
    return buf;
  };
  return { a, b, gen, checker, hsA, initiation };
}

const IP = Uint8Array.of(198, 51, 100, 7);
const PORT = 40000;

Deno.test("mac1 = MAC(HASH('mac1----' ‖ S_pub_receiver), msg[0:116]); any flipped byte rejects", () => {
  const { b, checker, initiation } = setup();
  const msg = initiation(0);
  const expected = mac(hash(LABEL_MAC1, b.publicKey), msg.subarray(0, INITIATION.MAC1));
  assert.deepEqual(msg.subarray(INITIATION.MAC1, INITIATION.MAC2), expected);
  assert.deepEqual(msg.subarray(INITIATION.MAC2), new Uint8Array(16), "no cookie: mac2 zero");
  assert.equal(checker.checkMac1(msg), true);
  for (let i = 0; i < INITIATION.MAC2; i++) {
    const bad = msg.slice();
    bad[i] ^= 1;
    assert.equal(checker.checkMac1(bad), false, `byte ${i}`);
  }
  const bad = msg.slice();
  bad[INITIATION.MAC2] ^= 1; // mac2 is not covered by mac1
  assert.equal(checker.checkMac1(bad), true);
  assert.equal(
    new CookieChecker(identity().publicKey).checkMac1(msg),
    false,
    "mac1 for another receiver",
  );
  assert.equal(new CookieChecker(null).checkMac1(msg), false, "no local key");
  assert.equal(checker.checkMac1(msg, 31), false, "too short");
  // A message inside a larger slot, with an explicit length.
  const slot = new Uint8Array(2048);
  slot.set(msg);
  assert.equal(checker.checkMac1(slot, 148), true);
  assert.equal(checker.check(slot, IP, PORT, false, 0, 148), CookieVerdict.ACCEPT);
});

Deno.test("cookie path: under load no mac2 → cookie reply → initiator stores it → resend passes", () => {
  const { a, b, gen, checker, initiation } = setup();
  let now = 1000;
  const first = initiation(now);
  assert.equal(checker.check(first, IP, PORT, false, now), CookieVerdict.ACCEPT, "not under load");
  assert.equal(checker.check(first, IP, PORT, true, now), CookieVerdict.SEND_COOKIE);

  const reply = new Uint8Array(2048);
  assert.equal(checker.createReply(first, IP, PORT, reply, now), 64);
  assert.deepEqual(reply.subarray(0, 4), Uint8Array.of(3, 0, 0, 0));
  assert.equal(readU32LE(reply, COOKIE_REPLY.RECEIVER), readU32LE(first, INITIATION.SENDER));
  assert.notDeepEqual(reply.subarray(8, 32), new Uint8Array(24), "random nonce");

  assert.equal(gen.hasCookie(now), false);
  assert.equal(gen.consumeReply(reply, now, 64), true);
  assert.equal(gen.hasCookie(now), true);

  now += 1000; // the next retransmission carries mac2
  const second = initiation(now);
  assert.notDeepEqual(second.subarray(INITIATION.MAC2), new Uint8Array(16));
  assert.equal(checker.checkMac2(second, IP, PORT, now), true);
  assert.equal(checker.check(second, IP, PORT, true, now), CookieVerdict.ACCEPT);

  // The cookie is bound to the source address and port.
  assert.equal(
    checker.check(second, Uint8Array.of(198, 51, 100, 8), PORT, true, now),
    CookieVerdict.SEND_COOKIE,
  );
  assert.equal(checker.check(second, IP, PORT + 1, true, now), CookieVerdict.SEND_COOKIE);
  // A mac2 computed over different bytes fails.
  const forged = second.slice();
  forged[INITIATION.MAC2] ^= 1;
  assert.equal(checker.check(forged, IP, PORT, true, now), CookieVerdict.SEND_COOKIE);
  void a;
  void b;
});

Deno.test("cookies and the responder secret expire after 120 s", () => {
  const { gen, checker, initiation } = setup();
  const t0 = 5000;
  const msg = initiation(t0);
  const reply = new Uint8Array(64);
  checker.createReply(msg, IP, PORT, reply, t0);
  gen.consumeReply(reply, t0);
  assert.equal(gen.hasCookie(t0 + COOKIE_REFRESH_TIME_MS), true, "exactly 120 s: still used");
  assert.equal(gen.hasCookie(t0 + COOKIE_REFRESH_TIME_MS + 1), false);
  const late = initiation(t0 + COOKIE_REFRESH_TIME_MS + 1);
  assert.deepEqual(late.subarray(INITIATION.MAC2), new Uint8Array(16), "stale cookie: mac2 zero");

  // Fresh cookie, but the responder's secret R is older than 120 s: mac2 refused, new secret.
  const m2 = initiation(t0 + 100);
  assert.equal(checker.checkMac2(m2, IP, PORT, t0 + 100), true);
  assert.equal(checker.checkMac2(m2, IP, PORT, t0 + COOKIE_REFRESH_TIME_MS + 1), false);
  const t1 = t0 + COOKIE_REFRESH_TIME_MS + 1;
  checker.createReply(m2, IP, PORT, reply, t1);
  assert.equal(gen.consumeReply(reply, t1), true);
  const m3 = initiation(t1);
  assert.equal(
    checker.check(m3, IP, PORT, true, t1),
    CookieVerdict.ACCEPT,
    "cookie under the new secret",
  );
});

Deno.test("cookie replies that must be ignored", () => {
  const { b, gen, checker, initiation } = setup();
  const fresh = new CookieGenerator(b.publicKey);
  const msg = initiation(0);
  const reply = new Uint8Array(64);
  checker.createReply(msg, IP, PORT, reply, 0);
  assert.equal(fresh.consumeReply(reply, 0), false, "nothing sent yet: no mac1 to bind to");
  for (const at of [8, 31, 32, 63]) {
    const bad = reply.slice();
    bad[at] ^= 1;
    assert.equal(gen.consumeReply(bad, 0), false, `tampered byte ${at}`);
  }
  assert.equal(gen.consumeReply(reply.subarray(0, 63), 0), false, "short");
  const wrongType = reply.slice();
  wrongType[0] = 2;
  assert.equal(gen.consumeReply(wrongType, 0), false);
  // Encrypted for another responder's key.
  const other = new CookieChecker(identity().publicKey);
  const foreign = new Uint8Array(64);
  other.createReply(msg, IP, PORT, foreign, 0);
  assert.equal(gen.consumeReply(foreign, 0), false);
  // AAD is the mac1 of the LAST message sent: a reply to an older message fails.
  initiation(1);
  assert.equal(gen.consumeReply(reply, 1), false);
  assert.equal(gen.hasCookie(1), false);
});

Deno.test("responses (92 bytes) use the same mac1/mac2/cookie machinery", () => {
  const a = identity();
  const b = identity();
  const genB = new CookieGenerator(a.publicKey); // B responds to A
  const checkerA = new CookieChecker(a.publicKey); // A under load
  const resp = crypto.getRandomValues(new Uint8Array(92));
  resp.set([2, 0, 0, 0]);
  genB.addMacs(resp, 0);
  assert.equal(checkerA.check(resp, IP, PORT, false, 0), CookieVerdict.ACCEPT);
  assert.equal(checkerA.check(resp, IP, PORT, true, 0), CookieVerdict.SEND_COOKIE);
  const reply = new Uint8Array(64);
  checkerA.createReply(resp, IP, PORT, reply, 0);
  assert.equal(readU32LE(reply, 4), readU32LE(resp, 4));
  assert.equal(genB.consumeReply(reply, 0), true);
  genB.addMacs(resp, 10);
  assert.equal(checkerA.check(resp, IP, PORT, true, 10), CookieVerdict.ACCEPT);
  void b;
});

Deno.test("deterministic cookie reply with an injected random source", () => {
  const b = identity();
  const fill = (v: number) => (buf: Uint8Array) => void buf.fill(v);
  const c1 = new CookieChecker(b.publicKey, { random: fill(7) });
  const c2 = new CookieChecker(b.publicKey, { random: fill(7) });
  const msg = new Uint8Array(148).fill(1);
  const r1 = new Uint8Array(64);
  const r2 = new Uint8Array(64);
  c1.createReply(msg, IP, PORT, r1, 0);
  c2.createReply(msg, IP, PORT, r2, 0);
  assert.deepEqual(r1, r2);
  assert.deepEqual(r1.subarray(8, 32), new Uint8Array(24).fill(7));
});

Deno.test("under load, valid mac2 is rate limited per source (20/s, burst 5)", () => {
  const { gen, checker, initiation } = setup();
  const msg = initiation(0);
  const reply = new Uint8Array(64);
  checker.createReply(msg, IP, PORT, reply, 0);
  gen.consumeReply(reply, 0);
  const ok = initiation(0);
  const verdicts = Array.from({ length: 7 }, () => checker.check(ok, IP, PORT, true, 0));
  assert.deepEqual(verdicts, [0, 0, 0, 0, 0, 3, 3].map((v) => v as number));
  assert.equal(checker.check(ok, IP, PORT, true, 49), CookieVerdict.RATE_LIMITED);
  assert.equal(checker.check(ok, IP, PORT, true, 50), CookieVerdict.ACCEPT, "one token per 50 ms");
  // Not under load: no rate limit at all.
  for (let i = 0; i < 20; i++) {
    assert.equal(checker.check(ok, IP, PORT, false, 50), CookieVerdict.ACCEPT);
  }
});

Deno.test("RateLimiter: burst, refill, cap, per-address, IPv6 keys, garbage collection", () => {
  const rl = new RateLimiter();
  const v4 = Uint8Array.of(10, 0, 0, 1);
  const v4b = Uint8Array.of(10, 0, 0, 2);
  const v6 = new Uint8Array(16).fill(0xfd);
  const v6b = v6.slice();
  v6b[15] = 1;
  const burst = (ip: Uint8Array, now: number) =>
    Array.from({ length: 8 }, () => rl.allow(ip, now)).filter(Boolean).length;
  assert.equal(burst(v4, 0), 5);
  assert.equal(burst(v4b, 0), 5, "independent per address");
  assert.equal(burst(v6, 0), 5);
  assert.equal(burst(v6b, 0), 5, "full 16-byte address is the key");
  assert.equal(rl.allow(v4, 100), true); // 2 tokens refilled after 100 ms
  assert.equal(rl.allow(v4, 100), true);
  assert.equal(rl.allow(v4, 100), false);
  // Long idle refills only up to the burst, and GC forgets idle sources.
  assert.equal(rl.size, 4);
  assert.equal(rl.allow(v4, 900), true); // keeps v4 fresh
  rl.gc(1500);
  assert.equal(rl.size, 1, "entries idle > 1 s dropped");
  assert.equal(burst(v4, 60_000), 5);
  rl.clear();
  assert.equal(rl.size, 0);
});

Deno.test("consumeInitiation after the cookie gate: the full responder pipeline", () => {
  const { a, b, gen, checker, hsA, initiation } = setup();
  const peerOfB = { handshake: new Handshake(b, a.publicKey) };
  const msg = initiation(0);
  const reply = new Uint8Array(64);
  assert.equal(checker.check(msg, IP, PORT, true, 0), CookieVerdict.SEND_COOKIE);
  checker.createReply(msg, IP, PORT, reply, 0);
  gen.consumeReply(reply, 0);
  const again = initiation(30);
  assert.equal(checker.check(again, IP, PORT, true, 30), CookieVerdict.ACCEPT);
  assert.equal(consumeInitiation(b, again, { lookup: () => peerOfB, now: 30 }), peerOfB);
  assert.equal(peerOfB.handshake.remoteIndex, hsA.localIndex);
});
