/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests/metrics_test.ts:
 * every line is `# HELP`, `# TYPE`, another `#` comment or a sample, and anything else throws
 * with the line number. Checked as a scraper (and promtool) would: metric and label names,
 * label values with only `\\`, `\"` and `\n` escapes, Go float values (`NaN`, `±Inf`), an
 * optional integer timestamp, one HELP and one TYPE per family and before its samples, a
 * family's samples together, no series twice, every sample under a TYPE, counters named
 * `*_total`.
 *
 * @example
 * ```ts
 * import { parseExposition } from "./prometheus_exposition.ts";
 * const f = parseExposition('# TYPE up gauge\nup{job="x"} 1\n');
 * console.log(f.get("up")?.samples[0].labels.job); // x
 * ```
 * @module
 */

/** One sample line. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** One metric family. */
export interface Family {
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | undefined;
  samples: Sample[];
}

/** A line that is not valid exposition text. */
export class ExpositionError extends Error {
  override name = "ExpositionError";
  constructor(line: number, text: string, detail: string) {
    super(`exposition line ${line}: ${detail}: ${JSON.stringify(text)}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseFloatGo(s: string): number {
  if (s === "NaN") return NaN;
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s);
}

/** Reads `{a="x",b="y"}` from `s` at `i` (at the `{`); returns the labels and the index after `}`. */
function readLabels(
  s: string,
  i: number,
  fail: (d: string) => never,
): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  for (;;) {
    if (s[i] === "}") return [labels, i + 1];
    const eq = s.indexOf("=", i);
    if (eq < 0) fail("label without =");
    const name = s.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name "${name}"`);
    if (name.startsWith("__")) fail(`reserved label name "${name}"`);
    if (Object.hasOwn(labels, name)) fail(`label "${name}" twice`);
    if (s[eq + 1] !== '"') fail(`label "${name}" value not quoted`);
    let v = "";
    let j = eq + 2;
    for (;; j++) {
      const c = s[j];
      if (c === undefined) fail("unterminated label value");
      if (c === '"') break;
      if (c === "\\") {
        const e = s[++j];
        if (e === "\\") v += "\\";
        else if (e === '"') v += '"';
        else if (e === "n") v += "\n";
        else fail(`bad escape \\${e ?? ""} in label "${name}"`);
      } else v += c;
    }
    labels[name] = v;
    i = j + 1;
    if (s[i] === ",") i++;
    else if (s[i] !== "}") fail(`expected , or } after label "${name}"`);
  }
}

/** Parses a whole exposition; throws {@link ExpositionError} on the first bad line. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  const finished = new Set<string>();
  const series = new Set<string>();
  let current = "";
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new ExpositionError(0, text.slice(-40), "does not end with a newline");
  }
  const lines = text.split("\n").slice(0, -1);
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) families.set(name, f = { type: "untyped", help: undefined, samples: [] });
    return f;
  };
  lines.forEach((line, n) => {
    const fail = (d: string): never => {
      throw new ExpositionError(n + 1, line, d);
    };
    if (line.trim() === "") fail("empty line");
    if (line.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kw, name, rest = ""] = m;
      if (!METRIC_NAME.test(name)) fail(`bad metric name "${name}"`);
      if (kw === "HELP") {
        if (helped.has(name)) fail(`second HELP for ${name}`);
        if (rest.replace(/\\[\\n]/g, "").includes("\\")) fail("bad escape in HELP");
        helped.add(name);
        family(name).help = rest.replace(/\\(\\|n)/g, (_, c) => (c === "n" ? "\n" : "\\"));
      } else {
        if (typed.has(name)) fail(`second TYPE for ${name}`);
        if (!TYPES.has(rest)) fail(`unknown type "${rest}"`);
        if (family(name).samples.length > 0) fail(`TYPE for ${name} after its samples`);
        typed.add(name);
        family(name).type = rest as Family["type"];
      }
      return;
    }
    const nameEnd = line.search(/[{ \t]/);
    if (nameEnd <= 0) fail("no value");
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) fail(`bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === "{") [labels, i] = readLabels(line, i, fail);
    const rest = line.slice(i);
    const m = /^[ \t]+(\S+)(?:[ \t]+(-?[0-9]+))?$/.exec(rest);
    if (m === null) fail("expected a value (and an optional timestamp) after the name");
    if (!FLOAT.test(m![1])) fail(`bad value "${m![1]}"`);
    // Counter and gauge samples carry their family's name (no _bucket/_sum/_count suffixes here).
    if (!typed.has(name)) fail(`sample of ${name} without a TYPE line`);
    if (finished.has(name)) fail(`samples of ${name} not together`);
    if (current !== name && current !== "") finished.add(current);
    current = name;
    const f = family(name);
    if (f.type === "counter" && !name.endsWith("_total")) fail(`counter ${name} not *_total`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) fail("the same series twice");
    series.add(key);
    const value = parseFloatGo(m![1]);
    if (f.type === "counter" && !(value >= 0)) fail("a counter below zero");
    f.samples.push({ labels, value });
  });
  return families;
}
