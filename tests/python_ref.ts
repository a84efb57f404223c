/**
 * Test helper: runs a Python 3 snippet (hashlib, hmac, `cryptography`) as an
 * independent reference implementation, passing JSON on stdin and reading
 * JSON from stdout. Tests skip loudly when python3 (or `cryptography`) is absent.
 *
 * @module
 */

/** True iff `python3` runs and can import the given modules. */
export function pythonHas(...modules: string[]): boolean {
  try {
    const r = new Deno.Command("python3", {
      args: ["-c", modules.map((m) => `import ${m}`).join("; ") || "pass"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
}

/** Runs `script` with `input` as JSON on stdin; the script prints one JSON value. */
export async function runPython(script: string, input: unknown): Promise<unknown> {
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(input)));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`python3 failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a hex string. */
export function fromHex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
