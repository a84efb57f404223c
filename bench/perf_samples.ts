/**
 * A `perf script` dump (the default text: a header line per sample, then its call chain one frame
 * a line, leaf first) summed per function: self ("no-children": the leaf frame) and total (the
 * function anywhere in the chain, once per sample), weighted by the sample's period, plus the
 * weight per part of the process and per thread. Read in chunks: a recording of 10 s is tens of MB.
 *
 * @example
 * ```ts
 * import { parseHeader } from "./perf_samples.ts";
 * console.log(parseHeader("deno 22910 12851.315585:     250000 cpu-clock: ")?.event);
 * // cpu-clock
 * ```
 * @module
 */
import type { FrameNamer, Part } from "./profile_frames.ts";

/** One function's weight. */
export interface FunctionWeight {
  name: string;
  part: Part;
  self: number;
  total: number;
}

/** A whole recording, summed. */
export interface SampleSummary {
  samples: number;
  /** Sum of the periods (ns for cpu-clock). */
  weight: number;
  events: string[];
  functions: FunctionWeight[];
  parts: Record<Part, number>;
  threads: Record<string, number>;
  /** Frames resolved from V8's perf map (0: the map was not read, JS and wasm are unnamed). */
  mapFrames: number;
}

/** A sample's header line. */
export interface SampleHeader {
  comm: string;
  period: number;
  event: string;
  /** Without `-g`, the sample's own `ip sym (dso)` follows the event on the same line. */
  rest: string;
}

const HEADER = /^(.*?)\s+\d+(?:\/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(?:(\d+)\s+)?(\S+):\s*(.*)$/;
const FRAME = /^\s*([0-9a-f]+)\s+(.*)\s\(([^()]*)\)$/;

/** Parses a header line; undefined when the line is not one. */
export function parseHeader(line: string): SampleHeader | undefined {
  const m = HEADER.exec(line);
  if (m === null) return undefined;
  return {
    comm: m[1].trim(),
    period: m[2] === undefined ? 1 : Number(m[2]),
    event: m[3],
    rest: m[4],
  };
}

/** Sums the dump at `path`. */
export async function summarizeScript(path: string, namer: FrameNamer): Promise<SampleSummary> {
  const fns = new Map<string, FunctionWeight>();
  const parts: Record<Part, number> = { wasm: 0, kernel: 0, js: 0, deno: 0, other: 0 };
  const threads: Record<string, number> = {};
  const events = new Set<string>();
  let samples = 0, weight = 0, mapFrames = 0;
  let header: SampleHeader | undefined;
  let leaf = true;
  const seen = new Set<string>();

  const addFrame = (text: string): void => {
    const m = FRAME.exec(text);
    if (m === null || header === undefined) return;
    const ip = parseInt(m[1], 16);
    if (m[3].endsWith(".map")) mapFrames++;
    const f = namer.frame(m[2], m[3], ip);
    const key = `${f.part}:${f.name}`;
    let w = fns.get(key);
    if (w === undefined) {
      w = { name: f.name, part: f.part, self: 0, total: 0 };
      fns.set(key, w);
    }
    if (leaf) {
      w.self += header.period;
      parts[f.part] += header.period;
      leaf = false;
    }
    if (!seen.has(key)) {
      seen.add(key);
      w.total += header.period;
    }
  };
  const onLine = (line: string): void => {
    if (line === "") return;
    if (line[0] !== " " && line[0] !== "\t") {
      const h = parseHeader(line);
      if (h === undefined) return;
      header = h;
      leaf = true;
      seen.clear();
      samples++;
      weight += h.period;
      events.add(h.event);
      threads[h.comm] = (threads[h.comm] ?? 0) + h.period;
      if (h.rest !== "") addFrame(h.rest);
      return;
    }
    addFrame(line);
  };

  // The readable closes the file when it ends (or when the loop leaves early).
  const file = await Deno.open(path);
  const dec = new TextDecoder();
  let carry = "";
  for await (const chunk of file.readable) {
    const text = carry + dec.decode(chunk, { stream: true });
    const lines = text.split("\n");
    carry = lines.pop()!;
    for (const l of lines) onLine(l);
  }
  onLine(carry + dec.decode());
  const functions = [...fns.values()].sort((x, y) => y.self - x.self || y.total - x.total);
  return { samples, weight, events: [...events], functions, parts, threads, mapFrames };
}
