import assert from "node:assert/strict";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  Handshake,
  HandshakeError,
  HandshakeState,
  type IndexAllocator,
  type LocalStatic,
  randomIndexAllocator,
  type TransportKeysInfo,
} from "../src/wg/handshake.ts";
import { CookieGenerator } from "../src/wg/cookie_generator.ts";
import { CookieChecker, CookieVerdict } from "../src/wg/cookie_checker.ts";
import { generatePresharedKey, generatePrivateKey, publicKey } from "../src/wg/keys.ts";
import { INITIATION, RESPONSE } from "../src/wg/messages.ts";
import { dh } from "../src/wg/primitives.ts";
import { tai64n } from "../src/wg/tai64n.ts";
import { fromHex, pythonHas, runPython, toHex } from "./python_ref.ts";

const PY = pythonHas("hashlib", "hmac", "cryptography");
if (!PY) {
  console.warn(
    "handshake_test: python3 with `cryptography` not found; reference comparison IGNORED",
  );
}

interface TestPeer {
  handshake: Handshake;
  cookies: CookieGenerator;
}

function identity(priv = generatePrivateKey()): LocalStatic {
  return { privateKey: priv, publicKey: publicKey(priv) };
}

/** A fixed index allocator handing out the given indices in order. */
function fixedIndices(...values: number[]): IndexAllocator & { released: number[] } {
  const released: number[] = [];
  return {
    released,
    allocate: () => {
      const v = values.shift();
      assert.ok(v !== undefined, "ran out of fixed indices");
      return v;
    },
    release: (i) => void released.push(i),
  };
}

function pair(psk: Uint8Array | null = null) {
  const a = identity();
  const b = identity();
  const peerOfA: TestPeer = {
    handshake: new Handshake(a, b.publicKey, psk),
    cookies: new CookieGenerator(b.publicKey),
  };
  const peerOfB: TestPeer = {
    handshake: new Handshake(b, a.publicKey, psk),
    cookies: new CookieGenerator(a.publicKey),
  };
  return { a, b, peerOfA, peerOfB };
}

function isPeer<T>(r: T | number): r is T {
  return typeof r !== "number";
}

Deno.test("end to end: initiation → response → transport keys equal crosswise", () => {
  for (const psk of [null, generatePresharedKey()]) {
    const { a, b, peerOfA, peerOfB } = pair(psk);
    const indices = randomIndexAllocator();
    const checkerB = new CookieChecker(b.publicKey);
    const checkerA = new CookieChecker(a.publicKey);
    const slot = new Uint8Array(2048); // a packet slot: messages are written at offset 0

    const ilen = createInitiation(peerOfA.handshake, slot, { indices });
    assert.equal(ilen, 148);
    assert.deepEqual(slot.subarray(0, 4), Uint8Array.of(1, 0, 0, 0));
    peerOfA.cookies.addMacs(slot, 0, ilen);
    assert.equal(peerOfA.handshake.state, HandshakeState.INITIATION_CREATED);
    assert.ok(indices.live.has(peerOfA.handshake.localIndex));

    const ip = Uint8Array.of(192, 0, 2, 1);
    assert.equal(checkerB.check(slot, ip, 51820, false, 0, ilen), CookieVerdict.ACCEPT);
    const got = consumeInitiation(b, slot, {
      lookup: (k) => (toHex(k) === toHex(a.publicKey) ? peerOfB : undefined),
      now: 0,
      length: ilen,
    });
    assert.equal(got, peerOfB);
    assert.equal(peerOfB.handshake.remoteIndex, peerOfA.handshake.localIndex);

    const rlen = createResponse(peerOfB.handshake, slot, { indices });
    assert.equal(rlen, 92);
    peerOfB.cookies.addMacs(slot, 0, rlen);
    assert.equal(checkerA.check(slot, ip, 51820, false, 0, rlen), CookieVerdict.ACCEPT);
    const byIndex = (i: number) => (i === peerOfA.handshake.localIndex ? peerOfA : undefined);
    assert.equal(consumeResponse(a, slot, { lookup: byIndex, length: rlen }), peerOfA);
    assert.equal(peerOfA.handshake.remoteIndex, peerOfB.handshake.localIndex);

    const ka = new Uint8Array(64);
    const kb = new Uint8Array(64);
    const ia = deriveTransportKeys(peerOfA.handshake, ka) as TransportKeysInfo;
    const ib = deriveTransportKeys(peerOfB.handshake, kb) as TransportKeysInfo;
    assert.equal(ia.isInitiator, true);
    assert.equal(ib.isInitiator, false);
    assert.equal(ia.localIndex, ib.remoteIndex);
    assert.equal(ia.remoteIndex, ib.localIndex);
    assert.deepEqual(ka.subarray(0, 32), kb.subarray(32, 64), "initiator send = responder receive");
    assert.deepEqual(ka.subarray(32, 64), kb.subarray(0, 32), "initiator receive = responder send");
    assert.notDeepEqual(ka.subarray(0, 32), ka.subarray(32, 64));
    // Handshakes are wiped and no longer own their indices (the keypairs do).
    for (const p of [peerOfA, peerOfB]) {
      assert.equal(p.handshake.state, HandshakeState.ZEROED);
      assert.equal(p.handshake.localIndex, -1);
    }
    assert.equal(deriveTransportKeys(peerOfA.handshake, ka), HandshakeError.WRONG_STATE);
    assert.equal(indices.live.size, 2);
  }
});

Deno.test("a psk mismatch fails the response", () => {
  const a = identity();
  const b = identity();
  const pa: TestPeer = {
    handshake: new Handshake(a, b.publicKey, generatePresharedKey()),
    cookies: new CookieGenerator(b.publicKey),
  };
  const pb: TestPeer = {
    handshake: new Handshake(b, a.publicKey, generatePresharedKey()),
    cookies: new CookieGenerator(a.publicKey),
  };
  const indices = randomIndexAllocator();
  const buf = new Uint8Array(148);
  createInitiation(pa.handshake, buf, { indices });
  assert.equal(consumeInitiation(b, buf, { lookup: () => pb, now: 0 }), pb);
  createResponse(pb.handshake, buf, { indices });
  assert.equal(
    consumeResponse(a, buf.subarray(0, 92), { lookup: () => pa }),
    HandshakeError.DECRYPT,
  );
  assert.equal(
    pa.handshake.state,
    HandshakeState.INITIATION_CREATED,
    "a failed response changes nothing",
  );
});

Deno.test("state machine: out-of-order steps are refused", () => {
  const { a, b, peerOfA, peerOfB } = pair();
  const indices = randomIndexAllocator();
  const buf = new Uint8Array(148);
  assert.equal(createResponse(peerOfB.handshake, buf, { indices }), HandshakeError.WRONG_STATE);
  assert.equal(
    deriveTransportKeys(peerOfA.handshake, new Uint8Array(64)),
    HandshakeError.WRONG_STATE,
  );
  createInitiation(peerOfA.handshake, buf, { indices });
  consumeInitiation(b, buf, { lookup: () => peerOfB, now: 0 });
  createResponse(peerOfB.handshake, buf, { indices });
  const resp = buf.slice(0, 92);
  assert.equal(consumeResponse(a, resp, { lookup: () => peerOfA }), peerOfA);
  assert.equal(
    consumeResponse(a, resp, { lookup: () => peerOfA }),
    HandshakeError.WRONG_STATE,
    "second copy",
  );
  assert.equal(consumeResponse(a, resp, { lookup: () => undefined }), HandshakeError.UNKNOWN_INDEX);
  assert.equal(
    createInitiation(new Handshake(null, b.publicKey), buf, { indices }),
    HandshakeError.NO_PRIVATE_KEY,
  );
  assert.equal(
    createInitiation(peerOfA.handshake, new Uint8Array(147), { indices }),
    HandshakeError.BAD_LENGTH,
  );
});

Deno.test("a new initiation releases the previous sender index", () => {
  const { peerOfA } = pair();
  const indices = fixedIndices(11, 22, 33);
  const buf = new Uint8Array(148);
  createInitiation(peerOfA.handshake, buf, { indices });
  assert.equal(peerOfA.handshake.localIndex, 11);
  assert.deepEqual(buf.subarray(4, 8), Uint8Array.of(11, 0, 0, 0));
  createInitiation(peerOfA.handshake, buf, { indices });
  assert.equal(peerOfA.handshake.localIndex, 22);
  assert.deepEqual(indices.released, [11]);
  peerOfA.handshake.clear(indices);
  assert.deepEqual(indices.released, [11, 22]);
  assert.equal(peerOfA.handshake.state, HandshakeState.ZEROED);
});

// ---------------------------------------------------------------------------
// Fixed keys: deterministic messages, checked against an independent Python
// implementation written from the whitepaper (hashlib + hmac + cryptography).

const FIXED = {
  staticI: fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), // RFC 7748 Alice
  staticR: fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"), // RFC 7748 Bob
  ephI: new Uint8Array(32).fill(0x11),
  ephR: new Uint8Array(32).fill(0x22),
  psk: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i),
  timestamp: tai64n(1_700_000_000_500),
  senderI: 0x04030201,
  senderR: 0xdeadbeef,
};

function fixedRun() {
  const i = identity(FIXED.staticI);
  const r = identity(FIXED.staticR);
  const peerOfI: TestPeer = {
    handshake: new Handshake(i, r.publicKey, FIXED.psk),
    cookies: new CookieGenerator(r.publicKey),
  };
  const peerOfR: TestPeer = {
    handshake: new Handshake(r, i.publicKey, FIXED.psk),
    cookies: new CookieGenerator(i.publicKey),
  };
  const init = new Uint8Array(148);
  assert.equal(
    createInitiation(peerOfI.handshake, init, {
      indices: fixedIndices(FIXED.senderI),
      ephemeralPrivate: FIXED.ephI,
      timestamp: FIXED.timestamp,
    }),
    148,
  );
  peerOfI.cookies.addMacs(init, 0);
  return { i, r, peerOfI, peerOfR, init };
}

const PY_HANDSHAKE = `
import sys, json, hashlib, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization as ser
p = {k: (bytes.fromhex(v) if isinstance(v, str) else v) for k, v in json.load(sys.stdin).items()}
def H(*x): return hashlib.blake2s(b"".join(x)).digest()
def HM(k, x): return hmac.new(k, x, hashlib.blake2s).digest()
def MAC(k, x): return hashlib.blake2s(x, digest_size=16, key=k).digest()
def KDF(n, c, x):
    prk = HM(c, x); t = [HM(prk, b"\\x01")]
    for i in range(2, n + 1): t.append(HM(prk, t[-1] + bytes([i])))
    return t
def PUB(k): return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
def DH(k, pub): return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(pub))
def AEAD(k, pt, ad): return ChaCha20Poly1305(k).encrypt(b"\\0" * 12, pt, ad)
le = lambda v: v.to_bytes(4, "little")
Si, Sr, Ei, Er = p["staticI"], p["staticR"], p["ephI"], p["ephR"]
Spi, Spr, Epi, Epr = PUB(Si), PUB(Sr), PUB(Ei), PUB(Er)
Ci = H(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s")
Hi = H(Ci, b"WireGuard v1 zx2c4 Jason@zx2c4.com")
# initiation
C = Ci; h = H(Hi, Spr)
C = KDF(1, C, Epi)[0]; h = H(h, Epi)
C, k = KDF(2, C, DH(Ei, Spr)); es = AEAD(k, Spi, h); h = H(h, es)
C, k = KDF(2, C, DH(Si, Spr)); ets = AEAD(k, p["timestamp"], h); h = H(h, ets)
m = b"\\x01\\0\\0\\0" + le(p["senderI"]) + Epi + es + ets
init = m + MAC(H(b"mac1----", Spr), m) + b"\\0" * 16
# response
h = H(h, Epr); C = KDF(1, C, Epr)[0]
C = KDF(1, C, DH(Er, Epi))[0]; C = KDF(1, C, DH(Er, Spi))[0]
C, tau, k = KDF(3, C, p["psk"]); h = H(h, tau)
empty = AEAD(k, b"", h); h = H(h, empty)
m = b"\\x02\\0\\0\\0" + le(p["senderR"]) + le(p["senderI"]) + Epr + empty
resp = m + MAC(H(b"mac1----", Spi), m) + b"\\0" * 16
T1, T2 = KDF(2, C, b"")
print(json.dumps({"init": init.hex(), "resp": resp.hex(), "t1": T1.hex(), "t2": T2.hex()}))
`;

Deno.test("fixed keys: output is deterministic", () => {
  const x = fixedRun();
  const y = fixedRun();
  assert.deepEqual(x.init, y.init);
  assert.deepEqual(
    FIXED.ephI,
    new Uint8Array(32).fill(0x11),
    "the injected ephemeral is not modified",
  );
});

Deno.test({
  name: "fixed keys: initiation, response and transport keys equal the Python reference",
  ignore: !PY,
  async fn() {
    const ref = await runPython(PY_HANDSHAKE, {
      staticI: toHex(FIXED.staticI),
      staticR: toHex(FIXED.staticR),
      ephI: toHex(FIXED.ephI),
      ephR: toHex(FIXED.ephR),
      psk: toHex(FIXED.psk),
      timestamp: toHex(FIXED.timestamp),
      senderI: FIXED.senderI,
      senderR: FIXED.senderR,
    }) as { init: string; resp: string; t1: string; t2: string };
    const { i, r, peerOfI, peerOfR, init } = fixedRun();
    assert.equal(toHex(init), ref.init);

    assert.equal(new CookieChecker(r.publicKey).checkMac1(init), true);
    assert.equal(consumeInitiation(r, init, { lookup: () => peerOfR, now: 0 }), peerOfR);
    assert.deepEqual(peerOfR.handshake.lastTimestamp, FIXED.timestamp);
    const resp = new Uint8Array(92);
    createResponse(peerOfR.handshake, resp, {
      indices: fixedIndices(FIXED.senderR),
      ephemeralPrivate: FIXED.ephR,
    });
    peerOfR.cookies.addMacs(resp, 0);
    assert.equal(toHex(resp), ref.resp);

    assert.equal(consumeResponse(i, resp, { lookup: () => peerOfI }), peerOfI);
    const ki = new Uint8Array(64);
    const kr = new Uint8Array(64);
    deriveTransportKeys(peerOfI.handshake, ki);
    deriveTransportKeys(peerOfR.handshake, kr);
    assert.equal(toHex(ki), ref.t1 + ref.t2, "initiator: send T1, receive T2");
    assert.equal(toHex(kr), ref.t2 + ref.t1, "responder: send T2, receive T1");
  },
});

const INIT_FIELDS: [string, number, number][] = [
  ["type", 0, 1],
  ["reserved", 1, 4],
  ["sender_index", INITIATION.SENDER, 8],
  ["ephemeral", INITIATION.EPHEMERAL, INITIATION.STATIC],
  ["encrypted_static", INITIATION.STATIC, INITIATION.TIMESTAMP],
  ["encrypted_timestamp", INITIATION.TIMESTAMP, INITIATION.MAC1],
  ["mac1", INITIATION.MAC1, INITIATION.MAC2],
  ["mac2", INITIATION.MAC2, INITIATION.SIZE],
];

Deno.test("fixed keys: tampering any initiation field is rejected", () => {
  const { r, init } = fixedRun();
  const checker = new CookieChecker(r.publicKey);
  const ip = Uint8Array.of(10, 0, 0, 1);
  for (const [field, start, end] of INIT_FIELDS) {
    for (const at of [start, end - 1]) {
      const bad = init.slice();
      bad[at] ^= 0x80;
      const fresh: TestPeer = fixedRun().peerOfR;
      const verdict = checker.check(bad, ip, 1, false, 0);
      const underLoad = checker.check(bad, ip, 1, true, 0);
      const consumed = consumeInitiation(r, bad, { lookup: () => fresh, now: 0 });
      if (field === "mac2") {
        // mac2 is only checked under load: it then demands a cookie.
        assert.equal(verdict, CookieVerdict.ACCEPT, field);
        assert.equal(underLoad, CookieVerdict.SEND_COOKIE, field);
        assert.equal(consumed, fresh, field);
        continue;
      }
      assert.equal(verdict, CookieVerdict.BAD_MAC1, `${field}@${at}: mac1 covers it`);
      assert.equal(underLoad, CookieVerdict.BAD_MAC1, field);
      const expected: Record<string, number | TestPeer> = {
        type: HandshakeError.BAD_TYPE,
        reserved: HandshakeError.BAD_TYPE,
        sender_index: fresh, // not part of the Noise transcript: only mac1 protects it
        ephemeral: HandshakeError.DECRYPT,
        encrypted_static: HandshakeError.DECRYPT,
        encrypted_timestamp: HandshakeError.DECRYPT,
        mac1: fresh,
      };
      assert.equal(consumed, expected[field], `${field}@${at}`);
      if (!isPeer(consumed)) {
        assert.equal(fresh.handshake.state, HandshakeState.ZEROED, "no state change");
      }
    }
  }
  assert.equal(
    consumeInitiation(r, init.subarray(0, 147), { lookup: () => undefined, now: 0 }),
    HandshakeError.BAD_LENGTH,
  );
  assert.equal(
    consumeInitiation(r, init, { lookup: () => undefined, now: 0 }),
    HandshakeError.UNKNOWN_PEER,
  );
});

Deno.test("fixed keys: tampering any response field is rejected", () => {
  const fields: [string, number, number, number][] = [
    ["type", 0, 1, HandshakeError.BAD_TYPE],
    ["reserved", 1, 4, HandshakeError.BAD_TYPE],
    ["receiver_index", RESPONSE.RECEIVER, RESPONSE.EPHEMERAL, HandshakeError.UNKNOWN_INDEX],
    ["ephemeral", RESPONSE.EPHEMERAL, RESPONSE.EMPTY, HandshakeError.DECRYPT],
    ["encrypted_nothing", RESPONSE.EMPTY, RESPONSE.MAC1, HandshakeError.DECRYPT],
  ];
  for (const [field, start, end, code] of fields) {
    for (const at of [start, end - 1]) {
      const { i, r, peerOfI, peerOfR, init } = fixedRun();
      consumeInitiation(r, init, { lookup: () => peerOfR, now: 0 });
      const resp = new Uint8Array(92);
      createResponse(peerOfR.handshake, resp, {
        indices: fixedIndices(FIXED.senderR),
        ephemeralPrivate: FIXED.ephR,
      });
      peerOfR.cookies.addMacs(resp, 0);
      const checker = new CookieChecker(i.publicKey);
      assert.equal(checker.checkMac1(resp), true);
      resp[at] ^= 0x80;
      assert.equal(checker.checkMac1(resp), false, `${field}: mac1 covers it`);
      const lookup = (idx: number) => (idx === FIXED.senderI ? peerOfI : undefined);
      assert.equal(consumeResponse(i, resp, { lookup }), code, `${field}@${at}`);
      assert.equal(peerOfI.handshake.state, HandshakeState.INITIATION_CREATED);
    }
  }
});

Deno.test("replayed or older timestamps are rejected", () => {
  const { a, b, peerOfA, peerOfB } = pair();
  const indices = randomIndexAllocator();
  const lookup = () => peerOfB;
  const mk = (unixMs: number): Uint8Array => {
    const buf = new Uint8Array(148);
    createInitiation(peerOfA.handshake, buf, { indices, timestamp: tai64n(unixMs) });
    return buf;
  };
  const t0 = 1_700_000_000_000;
  const first = mk(t0);
  assert.equal(consumeInitiation(b, first, { lookup, now: 1000 }), peerOfB);
  assert.equal(
    consumeInitiation(b, first, { lookup, now: 2000 }),
    HandshakeError.REPLAY,
    "same message again",
  );
  assert.equal(
    consumeInitiation(b, mk(t0), { lookup, now: 3000 }),
    HandshakeError.REPLAY,
    "equal timestamp",
  );
  assert.equal(
    consumeInitiation(b, mk(t0 - 1000), { lookup, now: 4000 }),
    HandshakeError.REPLAY,
    "older",
  );
  assert.equal(
    consumeInitiation(b, mk(t0 + 5), { lookup, now: 5000 }),
    HandshakeError.REPLAY,
    "same 16.8 ms bucket",
  );
  assert.equal(consumeInitiation(b, mk(t0 + 1000), { lookup, now: 6000 }), peerOfB);
  void a;
});

Deno.test("initiations within 20 ms of the last accepted one are a flood", () => {
  const { b, peerOfA, peerOfB } = pair();
  const indices = randomIndexAllocator();
  const lookup = () => peerOfB;
  let ts = 1_700_000_000_000;
  const mk = (): Uint8Array => {
    ts += 1000;
    const buf = new Uint8Array(148);
    createInitiation(peerOfA.handshake, buf, { indices, timestamp: tai64n(ts) });
    return buf;
  };
  assert.equal(consumeInitiation(b, mk(), { lookup, now: 100 }), peerOfB);
  assert.equal(consumeInitiation(b, mk(), { lookup, now: 110 }), HandshakeError.FLOOD);
  assert.equal(
    consumeInitiation(b, mk(), { lookup, now: 120 }),
    HandshakeError.FLOOD,
    "exactly 20 ms: still a flood",
  );
  assert.equal(consumeInitiation(b, mk(), { lookup, now: 120.5 }), peerOfB);
  assert.equal(peerOfB.handshake.lastInitiationConsumed, 120.5);
});

Deno.test("all-zero DH results abort the handshake", () => {
  const a = identity();
  const b = identity();
  const indices = randomIndexAllocator();
  const buf = new Uint8Array(148);
  // Peer configured with a low-order static key: no static-static secret, no initiation.
  const zeroPeer = new Handshake(a, new Uint8Array(32));
  assert.deepEqual(zeroPeer.precomputedStaticStatic, new Uint8Array(32));
  assert.equal(createInitiation(zeroPeer, buf, { indices }), HandshakeError.ZERO_DH);
  assert.equal(indices.live.size, 0);

  // Initiation carrying an all-zero (low-order) ephemeral, with a valid mac1.
  const pa: TestPeer = {
    handshake: new Handshake(a, b.publicKey),
    cookies: new CookieGenerator(b.publicKey),
  };
  const pb: TestPeer = {
    handshake: new Handshake(b, a.publicKey),
    cookies: new CookieGenerator(a.publicKey),
  };
  createInitiation(pa.handshake, buf, { indices });
  buf.fill(0, INITIATION.EPHEMERAL, INITIATION.STATIC);
  pa.cookies.addMacs(buf, 0);
  assert.equal(new CookieChecker(b.publicKey).checkMac1(buf), true);
  assert.equal(consumeInitiation(b, buf, { lookup: () => pb, now: 0 }), HandshakeError.ZERO_DH);

  // Response carrying a low-order ephemeral (u = 1).
  createInitiation(pa.handshake, buf, { indices });
  assert.equal(consumeInitiation(b, buf, { lookup: () => pb, now: 0 }), pb);
  createResponse(pb.handshake, buf, { indices });
  const resp = buf.slice(0, 92);
  resp.fill(0, RESPONSE.EPHEMERAL, RESPONSE.EMPTY);
  resp[RESPONSE.EPHEMERAL] = 1;
  assert.equal(consumeResponse(a, resp, { lookup: () => pa }), HandshakeError.ZERO_DH);

  // Responder whose configured peer key is low order: initiation from "that peer" fails.
  const c = identity();
  const pc: TestPeer = {
    handshake: new Handshake(c, b.publicKey),
    cookies: new CookieGenerator(b.publicKey),
  };
  createInitiation(pc.handshake, buf, { indices });
  const broken = { handshake: new Handshake(b, new Uint8Array(32)) };
  assert.equal(consumeInitiation(b, buf, { lookup: () => broken, now: 0 }), HandshakeError.ZERO_DH);
});

Deno.test("changing the local key recomputes the static-static secret", () => {
  const { a, b, peerOfA, peerOfB } = pair();
  const indices = randomIndexAllocator();
  const before = peerOfA.handshake.precomputedStaticStatic.slice();
  const a2 = identity();
  peerOfA.handshake.setLocalStatic(a2);
  assert.notDeepEqual(peerOfA.handshake.precomputedStaticStatic, before);
  const buf = new Uint8Array(148);
  createInitiation(peerOfA.handshake, buf, { indices });
  // B only knows A's old key: the decrypted static names nobody.
  const lookup = (k: Uint8Array) => (toHex(k) === toHex(a.publicKey) ? peerOfB : undefined);
  assert.equal(consumeInitiation(b, buf, { lookup, now: 0 }), HandshakeError.UNKNOWN_PEER);
  peerOfA.handshake.setLocalStatic(null);
  assert.equal(
    createInitiation(peerOfA.handshake, buf, { indices }),
    HandshakeError.NO_PRIVATE_KEY,
  );
});

Deno.test("the static-static DH is computed at a peer's first use, once, and kept", () => {
  const id = identity();
  let reads = 0; // reads of the private key: each DH with it reads it once
  const counted: LocalStatic = {
    get privateKey() {
      reads++;
      return id.privateKey;
    },
    publicKey: id.publicKey,
  };
  const remotes = Array.from({ length: 50 }, () => identity().publicKey);
  const peers = remotes.map((r) => new Handshake(counted, r));
  assert.equal(reads, 0, "adding peers computes no X25519 (setconf stays fast)");
  const ss = peers[0].precomputedStaticStatic;
  assert.equal(reads, 1, "the first use computes it");
  assert.equal(toHex(ss), toHex(dh(id.privateKey, remotes[0])!));
  assert.equal(peers[0].precomputedStaticStatic, ss, "later uses read the same cache");
  const indices = randomIndexAllocator();
  createInitiation(peers[0], new Uint8Array(148), { indices });
  assert.equal(reads, 1, "a handshake reuses it");
  // A new local key wipes the cache; it is computed again at the next use only.
  peers[0].setLocalStatic(counted);
  assert.equal(toHex(ss), "00".repeat(32), "wiped in place");
  assert.equal(reads, 1);
  assert.equal(toHex(peers[0].precomputedStaticStatic), toHex(dh(id.privateKey, remotes[0])!));
  assert.equal(reads, 2);
});
