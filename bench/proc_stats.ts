/**
 * Memory and CPU of a running process from procfs, as the network benchmark
 * records them: peak and current resident set (`VmHWM`, `VmRSS` in
 * `/proc/PID/status`, the latter split into anonymous and file-backed pages)
 * and CPU seconds (`utime + stime` of `/proc/PID/stat`,
 * every thread of the process, in clock ticks of 1/100 s).
 *
 * @example
 * ```ts
 * import { readProcStats } from "./proc_stats.ts";
 * const s = readProcStats(Deno.pid);
 * console.log(s?.hwmKiB, s?.cpuSeconds);
 * ```
 * @module
 */

/** Clock ticks per second of `utime`/`stime` (`getconf CLK_TCK`; 100 on Linux x86-64). */
export const CLK_TCK = 100;

/** One reading. */
export interface ProcStats {
  /** Peak resident set since the process started (`VmHWM`), KiB. */
  hwmKiB: number;
  /** Resident set now (`VmRSS`), KiB. */
  rssKiB: number;
  /** Of which anonymous (heaps, WASM memory, stacks), KiB. */
  rssAnonKiB: number;
  /** Of which file-backed (mostly the executable's code pages), KiB. */
  rssFileKiB: number;
  /** User + system CPU time of all its threads so far, seconds. */
  cpuSeconds: number;
  /** `/proc/PID/comm`. */
  comm: string;
}

function kib(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : NaN;
}

/** Reads the process's figures; undefined once it has exited. */
export function readProcStats(pid: number): ProcStats | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after "(comm)": state is field 3, utime 14, stime 15 (1-based).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(rest[14 - 3]);
    const stime = Number(rest[15 - 3]);
    return {
      hwmKiB: kib(status, "VmHWM"),
      rssKiB: kib(status, "VmRSS"),
      rssAnonKiB: kib(status, "RssAnon"),
      rssFileKiB: kib(status, "RssFile"),
      cpuSeconds: (utime + stime) / CLK_TCK,
      comm: Deno.readTextFileSync(`/proc/${pid}/comm`).trim(),
    };
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU time from the first line of `/proc/stat`, seconds. */
export interface HostCpu {
  /** user + nice + system + irq + softirq + steal, all CPUs. */
  busy: number;
  /** busy + idle + iowait. */
  total: number;
}

/** Reads the machine's CPU counters (for "how busy was the box during this test"). */
export function readHostCpu(): HostCpu {
  const line = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/)
    .slice(1, 9).map(Number);
  const busy = (user + nice + system + irq + softirq + steal) / CLK_TCK;
  return { busy, total: busy + (idle + iowait) / CLK_TCK };
}
