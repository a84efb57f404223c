import assert from "node:assert/strict";
import {
  aeadOpen,
  aeadSeal,
  constantTimeEqual,
  dh,
  dhPublicKey,
  hash,
  hmac,
  INITIAL_CHAIN_KEY,
  INITIAL_HASH,
  isZero,
  kdf1,
  kdf2,
  kdf3,
  LABEL_MAC1,
  mac,
  xaeadOpen,
  xaeadSeal,
} from "../src/wg/primitives.ts";
import { fromHex, pythonHas, runPython, toHex } from "./python_ref.ts";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const range = (n: number, start = 0): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => start + i);

const PY = pythonHas("hashlib", "hmac", "cryptography");
if (!PY) {
  console.warn(
    "primitives_test: python3 with `cryptography` not found; Python cross-checks IGNORED",
  );
}

Deno.test("Ci and Hi are HASH(CONSTRUCTION) and HASH(Ci ‖ IDENTIFIER), as known values", () => {
  assert.equal(
    toHex(INITIAL_CHAIN_KEY),
    "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36",
  );
  assert.equal(
    toHex(INITIAL_HASH),
    "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3",
  );
});

Deno.test("HASH = BLAKE2s-256 (RFC 7693 'abc')", () => {
  assert.equal(
    toHex(hash(ascii("abc"))),
    "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
  );
  assert.deepEqual(hash(ascii("a"), ascii("bc")), hash(ascii("abc")));
});

Deno.test("DH = X25519 (RFC 7748 §5.2 and §6.1)", () => {
  assert.equal(
    toHex(
      dh(
        fromHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
        fromHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
      )!,
    ),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
  assert.equal(
    toHex(
      dh(
        fromHex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
        fromHex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
      )!,
    ),
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  );
  const alice = fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const bob = fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  assert.equal(
    toHex(dhPublicKey(alice)),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assert.equal(
    toHex(dhPublicKey(bob)),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(dh(alice, dhPublicKey(bob))!), shared);
  assert.equal(toHex(dh(bob, dhPublicKey(alice))!), shared);
});

Deno.test("DH with a low-order public key yields null (all-zero result)", () => {
  const priv = range(32, 1);
  const lowOrder = [
    new Uint8Array(32), // 0
    fromHex("0100000000000000000000000000000000000000000000000000000000000000"), // 1
    fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // p - 1
    fromHex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), // order 8
    fromHex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"), // order 8
    fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // p (= 0)
  ];
  for (const pub of lowOrder) assert.equal(dh(priv, pub), null, toHex(pub));
});

Deno.test("XAEAD = XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 §A.3.1)", () => {
  const key = range(32, 0x80);
  const nonce = fromHex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const aad = fromHex("50515253c0c1c2c3c4c5c6c7");
  const pt = ascii(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = xaeadSeal(key, nonce, pt, aad);
  assert.equal(
    toHex(sealed),
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e" +
      "c0875924c1c7987947deafd8780acf49",
  );
  assert.deepEqual(xaeadOpen(key, nonce, sealed, aad), pt);
  sealed[0] ^= 1;
  assert.equal(xaeadOpen(key, nonce, sealed, aad), null);
});

Deno.test("AEAD seals into a caller buffer and rejects a flipped bit", () => {
  const key = range(32);
  const out = new Uint8Array(64).fill(0xee);
  const ct = aeadSeal(key, 0, ascii("hello"), ascii("aad"), out);
  assert.equal(ct.length, 21);
  assert.equal(ct.buffer, out.buffer);
  assert.equal(out[21], 0xee);
  assert.deepEqual(aeadOpen(key, 0, ct, ascii("aad")), ascii("hello"));
  assert.equal(aeadOpen(key, 1, ct, ascii("aad")), null);
  assert.equal(aeadOpen(key, 0, ct, ascii("aaD")), null);
  assert.equal(aeadOpen(key, 0, ct.subarray(0, 10), ascii("aad")), null);
});

Deno.test("isZero and constantTimeEqual", () => {
  assert.equal(isZero(new Uint8Array(32)), true);
  assert.equal(isZero(Uint8Array.of(0, 0, 1)), false);
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1)), false);
});

const PY_PRIMS = `
import sys, json, hashlib, hmac
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
inp = json.load(sys.stdin)
b = bytes.fromhex
def H(*x): return hashlib.blake2s(b"".join(x)).digest()
def HM(k, x): return hmac.new(k, x, hashlib.blake2s).digest()
def MAC(k, x): return hashlib.blake2s(x, digest_size=16, key=k).digest()
def KDF(n, c, x):
    prk = HM(c, x); t = [HM(prk, b"\\x01")]
    for i in range(2, n + 1): t.append(HM(prk, t[-1] + bytes([i])))
    return [v.hex() for v in t]
out = []
for case in inp:
    k, x = b(case["key"]), b(case["data"])
    ctr = case["counter"]
    nonce = b"\\0\\0\\0\\0" + ctr.to_bytes(8, "little")
    out.append({
        "hash": H(x).hex(),
        "mac": MAC(k, x).hex(),
        "mac1key": H(b"mac1----" + k).hex(),
        "hmac": HM(k, x).hex(),
        "kdf1": KDF(1, k, x), "kdf2": KDF(2, k, x), "kdf3": KDF(3, k, x),
        "aead": ChaCha20Poly1305(k).encrypt(nonce, x, b"aad").hex() if len(k) == 32 else "",
    })
print(json.dumps(out))
`;

Deno.test({
  name: "MAC (keyed BLAKE2s-128), HMAC-BLAKE2s, KDF1/2/3 and AEAD nonce match Python",
  ignore: !PY,
  async fn() {
    const cases = [
      { key: range(32), data: new Uint8Array(0), counter: 0 },
      { key: range(32, 100), data: ascii("WireGuard handshake bytes"), counter: 1 },
      { key: new Uint8Array(32).fill(0xff), data: range(148), counter: 0x0102030405 },
      { key: range(16, 7), data: range(200, 3), counter: 7 }, // short key, long data
    ];
    const ref = await runPython(
      PY_PRIMS,
      cases.map((c) => ({ key: toHex(c.key), data: toHex(c.data), counter: c.counter })),
    ) as Record<string, string | string[]>[];
    cases.forEach((c, i) => {
      const r = ref[i];
      assert.equal(toHex(hash(c.data)), r.hash);
      assert.equal(toHex(mac(c.key, c.data)), r.mac, "MAC must be BLAKE2s with digest_size=16");
      assert.equal(toHex(hash(LABEL_MAC1, c.key)), r.mac1key);
      assert.equal(toHex(hmac(c.key, c.data)), r.hmac);
      assert.deepEqual([toHex(kdf1(c.key, c.data))], r.kdf1);
      assert.deepEqual(kdf2(c.key, c.data).map(toHex), r.kdf2);
      assert.deepEqual(kdf3(c.key, c.data).map(toHex), r.kdf3);
      if (c.key.length === 32) {
        assert.equal(toHex(aeadSeal(c.key, c.counter, c.data, ascii("aad"))), r.aead);
      }
    });
    // A truncated 32-byte digest is not the 16-byte keyed MAC.
    const truncated = hash(range(32)).subarray(0, 16);
    assert.notDeepEqual(mac(range(32), new Uint8Array(0)), truncated);
  },
});
