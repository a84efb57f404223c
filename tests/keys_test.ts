import assert from "node:assert/strict";
import {
  clampPrivateKey,
  decodeBase64Key,
  decodeHexKey,
  encodeBase64Key,
  encodeHexKey,
  generatePresharedKey,
  generatePrivateKey,
  isZeroKey,
  KeyFormatError,
  publicKey,
} from "../src/wg/keys.ts";

function wgAvailable(): boolean {
  try {
    return new Deno.Command("wg", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const WG = wgAvailable();
if (!WG) {
  console.warn(
    "keys_test: `wg` (wireguard-tools) not on PATH; comparisons with the real wg IGNORED",
  );
}

async function wg(args: string[], stdin = ""): Promise<string> {
  const child = new Deno.Command("wg", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  assert.ok(out.success, `wg ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("base64 round trip and the exact 44-char shape", () => {
  for (let i = 0; i < 50; i++) {
    const k = crypto.getRandomValues(new Uint8Array(32));
    const s = encodeBase64Key(k);
    assert.equal(s.length, 44);
    assert.match(s, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(s, btoa(String.fromCharCode(...k)));
    assert.deepEqual(decodeBase64Key(s), k);
  }
});

Deno.test("base64 decoding rejects what wg rejects, with clear errors", () => {
  const good = encodeBase64Key(new Uint8Array(32).fill(7));
  assert.throws(
    () => decodeBase64Key(good.slice(0, 43)),
    /expected 44 base64 chars ending in '=', got 43 chars/,
  );
  assert.throws(() => decodeBase64Key(good + "="), /got 45 chars/);
  assert.throws(() => decodeBase64Key(good.slice(0, 43) + "A"), KeyFormatError); // no padding
  assert.throws(() => decodeBase64Key("!" + good.slice(1)), /not valid base64/);
  assert.throws(() => decodeBase64Key("é" + good.slice(1)), /not valid base64/);
  assert.throws(() => decodeBase64Key("-" + good.slice(1)), /not valid base64/); // url-safe alphabet
  // 43rd char must leave its low 2 bits zero ('B' = 1 is non-canonical).
  assert.throws(() => decodeBase64Key(good.slice(0, 42) + "B="), /non-canonical/);
  // 48-byte and 16-byte keys are the wrong length.
  assert.throws(() => decodeBase64Key(btoa("x".repeat(48))), KeyFormatError);
  assert.throws(() => decodeBase64Key(btoa("x".repeat(16))), KeyFormatError);
  assert.throws(() => encodeBase64Key(new Uint8Array(31)), /needs a 32-byte key, got 31/);
});

Deno.test("hex keys for the UAPI", () => {
  const k = Uint8Array.from({ length: 32 }, (_, i) => i * 8);
  const hex = encodeHexKey(k);
  assert.equal(hex, "0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8");
  assert.deepEqual(decodeHexKey(hex), k);
  assert.deepEqual(decodeHexKey(hex.toUpperCase()), k);
  assert.throws(() => decodeHexKey(hex.slice(2)), /must be 64 chars, got 62/);
  assert.throws(() => decodeHexKey("g" + hex.slice(1)), /non-hex/);
});

Deno.test("generated keys: private keys clamped, psk not", () => {
  for (let i = 0; i < 20; i++) {
    const k = generatePrivateKey();
    assert.equal(k.length, 32);
    assert.equal(k[0] & 7, 0);
    assert.equal(k[31] & 0x80, 0);
    assert.equal(k[31] & 0x40, 0x40);
  }
  // Among 64 psks some byte 0 has a low bit set: they are not clamped.
  const psks = Array.from({ length: 64 }, generatePresharedKey);
  assert.ok(psks.some((p) => (p[0] & 7) !== 0 || (p[31] & 0xc0) !== 0x40));
  assert.deepEqual(clampPrivateKey(new Uint8Array(32).fill(0xff))[0], 248);
  assert.equal(isZeroKey(new Uint8Array(32)), true);
  assert.equal(isZeroKey(generatePresharedKey()), false);
});

Deno.test("publicKey clamps like wg: clamped and unclamped forms agree", () => {
  const raw = new Uint8Array(32).fill(0xff);
  const clamped = clampPrivateKey(new Uint8Array(raw));
  assert.deepEqual(publicKey(raw), publicKey(clamped));
  assert.deepEqual(raw, new Uint8Array(32).fill(0xff), "publicKey must not modify its input");
});

Deno.test({
  name: "generatePrivateKey/publicKey match the real `wg pubkey` byte for byte",
  ignore: !WG,
  async fn() {
    const privs = Array.from({ length: 8 }, generatePrivateKey);
    privs.push(new Uint8Array(32).fill(0xff)); // unclamped: wg clamps too
    privs.push(new Uint8Array(32)); // all zero
    for (const priv of privs) {
      const ours = encodeBase64Key(publicKey(priv));
      const theirs = await wg(["pubkey"], encodeBase64Key(priv) + "\n");
      assert.equal(theirs, ours + "\n");
    }
  },
});

Deno.test({
  name: "`wg genkey` and `wg genpsk` output decodes; our pubkey of genkey equals `wg pubkey`",
  ignore: !WG,
  async fn() {
    for (let i = 0; i < 4; i++) {
      const text = await wg(["genkey"]);
      assert.match(text, /^[A-Za-z0-9+/]{43}=\n$/);
      const priv = decodeBase64Key(text.trim());
      assert.equal(encodeBase64Key(priv), text.trim());
      assert.deepEqual(clampPrivateKey(new Uint8Array(priv)), priv, "wg genkey output is clamped");
      assert.equal(encodeBase64Key(publicKey(priv)) + "\n", await wg(["pubkey"], text));
    }
    const psk = await wg(["genpsk"]);
    assert.equal(decodeBase64Key(psk.trim()).length, 32);
    // wg refuses exactly what we refuse.
    const k = encodeBase64Key(generatePrivateKey());
    const inputs = [
      k,
      "AAAA",
      k.slice(0, 42) + "B=",
      k.slice(0, 42) + "E=",
      k.slice(0, 43) + "A",
      "*" + k.slice(1),
    ];
    for (const text of inputs) {
      const child = new Deno.Command("wg", {
        args: ["pubkey"],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(text + "\n"));
      await w.close();
      const wgOk = (await child.status).success;
      let ours = true;
      try {
        decodeBase64Key(text);
      } catch (e) {
        assert.ok(e instanceof KeyFormatError);
        ours = false;
      }
      assert.equal(ours, wgOk, text);
    }
  },
});
