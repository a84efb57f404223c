/**
 * What `up` writes when it cannot run, for the people and programs reading it: in JSON mode every
 * stderr line is JSON (the fatal one included, with the cause), so `up … 2>&1 | jq .` never stops
 * on a plain line; in text mode no colour codes when stderr is not a terminal; a 10 MB file of NUL
 * bytes gives one short line, not 140 MB. No root needed: these fail before any device exists.
 * @module
 */
import { deepStrictEqual, equal, match, ok } from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function up(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "up", ...args],
    env: { NO_COLOR: "" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code: o.code, stderr: dec.decode(o.stderr), stdout: dec.decode(o.stdout) };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split("\n").map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`stderr line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
  });
}

function tempConf(bytes: Uint8Array): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/tslog0.conf`;
  Deno.writeFileSync(path, bytes, { mode: 0o600 });
  return { dir, path };
}

Deno.test("up --log-format json: a 10 MB file of NUL bytes is one JSON fatal line, exit 1", async () => {
  const { dir, path } = tempConf(new Uint8Array(10 << 20));
  try {
    const r = await up([path, "--log-format", "json"]);
    equal(r.code, 1);
    ok(r.stderr.length < 2000, `stderr is ${r.stderr.length} bytes`);
    const lines = jsonLines(r.stderr);
    const last = lines.at(-1)!;
    equal(last.level, "FATAL");
    match(String(last.message), /tslog0\.conf:1: contains a NUL byte/);
    deepStrictEqual(r.stdout, "");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("up --log-format json: usage errors and missing files are JSON lines too", async () => {
  const bad = await up(["/nonexistent/x.conf", "--log-format", "json", "--no-such-flag"]);
  equal(bad.code, 2);
  equal(jsonLines(bad.stderr).at(-1)!.level, "ERROR");
  const missing = await up(["/nonexistent/x.conf", "--log-format=json"]);
  equal(missing.code, 1);
  const last = jsonLines(missing.stderr).at(-1)!;
  equal(last.level, "FATAL");
  match(String(last.message), /x\.conf:0: cannot read file/);
  // The cause travels with it.
  match(JSON.stringify(last.properties), /"cause":".*NotFound/);
});

Deno.test("up --log-format text with stderr not a terminal: no colour codes", async () => {
  const r = await up(["/nonexistent/x.conf", "--log-format", "text"]);
  equal(r.code, 1);
  match(r.stderr, /cannot read file/);
  ok(!r.stderr.includes("\x1b["), `escape codes in: ${JSON.stringify(r.stderr.slice(0, 300))}`);
});
