/**
 * Text generators shared by the config and UAPI targets: IP addresses in
 * the many spellings parsers must accept (our own formatter, not the one
 * under test), key/value noise and line-level mutations.
 * @module
 */
import type { Rng } from "./rng.ts";

export function v4Text(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** 16 random bytes with many zero words (so "::" has runs to compress). */
export function randomV6(rng: Rng): Uint8Array {
  const b = rng.bytes(16);
  for (let w = 0; w < 8; w++) {
    if (rng.chance(0.4)) b[2 * w] = b[2 * w + 1] = 0;
  }
  if (rng.chance(0.3)) b.set([0xfd, rng.int(0, 255)]);
  return b;
}

/** An RFC 4291 spelling of `b`: full or with one "::", random case and leading zeros, maybe a dotted tail. */
export function v6Text(rng: Rng, b: Uint8Array, canonicalCase = false): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[2 * i] << 8) | b[2 * i + 1]);
  const dotted = rng.chance(0.1);
  const groups = (ws: number[]): string[] =>
    ws.map((w) => {
      let s = w.toString(16);
      if (rng.chance(0.15)) s = s.padStart(rng.int(s.length, 4), "0");
      if (!canonicalCase && rng.chance(0.3)) s = s.toUpperCase();
      return s;
    });
  const n = dotted ? 6 : 8;
  const tail = dotted ? [v4Text(b.subarray(12))] : [];
  // Zero runs among the first n words; compress one of them (any length ≥ 1) half the time.
  const runs: [number, number][] = [];
  for (let i = 0; i < n;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && words[j] === 0) j++;
    runs.push([i, j]);
    i = j;
  }
  if (runs.length > 0 && rng.chance(0.7)) {
    const [s, e] = rng.pick(runs);
    const start = rng.int(s, e - 1), end = rng.int(start + 1, e);
    const left = groups(words.slice(0, start)).join(":");
    const right = [...groups(words.slice(end, n)), ...tail].join(":");
    return `${left}::${right}`;
  }
  return [...groups(words.slice(0, n)), ...tail].join(":");
}

/** A DNS-ish host name (letters first, so it is never taken for an address). */
export function hostName(rng: Rng): string {
  const label = () => {
    const chars = "abcdefghijklmnopqrstuvwxyz0123456789-";
    let s = "abcdefghijklmnopqrstuvwxyz"[rng.below(26)];
    for (let k = rng.int(0, 10); k > 0; k--) s += chars[rng.below(chars.length)];
    return s;
  };
  const parts = [];
  for (let k = rng.int(1, 4); k > 0; k--) parts.push(label());
  return parts.join(".");
}

/** Characters hostile to parsers and logs: C0/C1 controls, DEL, separators, BOM, emoji, NUL. */
export const NASTY = [
  "\0",
  "\x01",
  "\x07",
  "\b",
  "\t",
  "\v",
  "\f",
  "\r",
  "\x1b",
  "\x1b[31m",
  "\x7f",
  "\x85",
  "\x9b",
  "\x9b31m",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\ufffd",
  "😀",
  "\u200b",
  "=",
  "#",
  "[",
  "]",
  ",",
  ":",
  "/",
  "%",
  "\\",
  '"',
  "'",
  " ",
  "\u00a0",
];

/** A random value: numbers, keys, addresses, or garbage. */
export function noiseValue(rng: Rng): string {
  switch (rng.below(9)) {
    case 0:
      return String(rng.int(-5, 70000));
    case 1:
      return "0x" + rng.u32().toString(16);
    case 2:
      return rng.pick(["", "on", "off", "true", "false", "auto", "yes", "1", "-1", "+8"]);
    case 3:
      return v4Text(rng.bytes(4)) + (rng.chance(0.5) ? `/${rng.int(0, 40)}` : "");
    case 4:
      return v6Text(rng, randomV6(rng)) + (rng.chance(0.5) ? `/${rng.int(0, 140)}` : "");
    case 5:
      return rng.pick(NASTY).repeat(rng.int(1, 5));
    case 6:
      return btoa(String.fromCharCode(...rng.bytes(rng.pick([31, 32, 33]))));
    case 7:
      return [...rng.bytes(rng.pick([31, 32, 33]))].map((x) => x.toString(16).padStart(2, "0"))
        .join("");
    default: {
      let s = "";
      for (let k = rng.int(0, 30); k > 0; k--) s += String.fromCharCode(rng.int(0, 0x2ff));
      return s;
    }
  }
}

/** Line-level and character-level mutations of `lines` (1–3 of them). */
export function mutateLines(
  rng: Rng,
  lines: string[],
  keys: readonly string[],
  sep: string,
): string[] {
  const out = [...lines];
  for (let m = rng.int(1, 3); m > 0; m--) {
    const at = rng.below(out.length + 1);
    switch (rng.below(12)) {
      case 0: // a random key = value line
        out.splice(at, 0, `${rng.pick(keys)}${sep}${noiseValue(rng)}`);
        break;
      case 1:
        if (out.length > 0) out.splice(Math.min(at, out.length - 1), 1);
        break;
      case 2:
        if (out.length > 0) out.splice(at, 0, out[Math.min(at, out.length - 1)]);
        break;
      case 3: { // a character inserted, deleted or replaced in a line
        if (out.length === 0) break;
        const i = Math.min(at, out.length - 1);
        const l = out[i];
        const p = rng.below(l.length + 1);
        const ch = rng.chance(0.5) ? rng.pick(NASTY) : String.fromCharCode(rng.int(0, 0x17f));
        out[i] = rng.chance(0.5)
          ? l.slice(0, p) + ch + l.slice(p)
          : l.slice(0, p) + ch + l.slice(p + 1);
        break;
      }
      case 4: { // a long line
        const len = rng.pick([1000, 65535, 65536, 65537, 66000, 200_000]);
        const unit = rng.pick(["a", "1", "=", "10.0.0.0/8,", "😀", "\0"]);
        out.splice(
          at,
          0,
          `${rng.pick(keys)}${sep}${unit.repeat(Math.ceil(len / unit.length)).slice(0, len)}`,
        );
        break;
      }
      case 5: // the value of a line replaced
        if (out.length > 0) {
          const i = Math.min(at, out.length - 1);
          const eq = out[i].indexOf(sep.trim() || "=");
          out[i] = (eq >= 0 ? out[i].slice(0, eq + 1) : out[i]) + noiseValue(rng);
        }
        break;
      case 6: // the key of a line replaced
        if (out.length > 0) {
          const i = Math.min(at, out.length - 1);
          const eq = out[i].indexOf("=");
          out[i] = rng.pick(keys) + (eq >= 0 ? out[i].slice(eq) : sep + noiseValue(rng));
        }
        break;
      case 7: // two lines swapped
        if (out.length > 1) {
          const j = rng.below(out.length), i = Math.min(at, out.length - 1);
          [out[i], out[j]] = [out[j], out[i]];
        }
        break;
      case 8: // a bare word or an empty line
        out.splice(at, 0, rng.pick(["", " ", "garbage", "[", "[Peer", "=", "==", "\0"]));
        break;
      case 9: // case changed
        if (out.length > 0) {
          const i = Math.min(at, out.length - 1);
          out[i] = rng.chance(0.5) ? out[i].toUpperCase() : out[i].toLowerCase();
        }
        break;
      case 10: // whitespace around
        if (out.length > 0) {
          const i = Math.min(at, out.length - 1);
          out[i] = rng.pick([" ", "\t", "  ", "\r"]) + out[i] + rng.pick(["", " ", "\t", "\r"]);
        }
        break;
      default: // cut short
        out.length = Math.min(out.length, at);
    }
  }
  return out;
}

/** A byte of the UTF-8 text flipped (the result is decoded leniently). */
export function flipUtf8(rng: Rng, text: string): string {
  const b = new TextEncoder().encode(text);
  if (b.length === 0) return text;
  for (let k = rng.int(1, 3); k > 0; k--) b[rng.below(b.length)] ^= 1 << rng.below(8);
  return new TextDecoder().decode(b);
}
