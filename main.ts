/**
 * tunslab command line: parse, dispatch, exit code (0 ok, 1 runtime failure,
 * 2 usage). Each subcommand parses its own flags with `node:util` parseArgs in
 * strict mode, so unknown flags are usage errors.
 *
 * @example
 * ```sh
 * deno run -A main.ts genkey | tee a.key | deno run -A main.ts pubkey
 * sudo deno run -A main.ts up wg0.conf
 * ```
 * @module
 */

import { type Command, COMMANDS } from "./src/cli/commands.ts";
import { UsageError } from "./src/cli/usage_error.ts";
import { isJsonFormat, type LogFormat, writeFatal } from "./src/log.ts";

/** The `--log-format` a command line asks for (`auto` when it names none). */
function logFormatIn(args: string[]): LogFormat {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = a === "--log-format"
      ? args[i + 1]
      : a.startsWith("--log-format=")
      ? a.slice(13)
      : null;
    if (v === "json" || v === "text" || v === "auto") return v;
  }
  return "auto";
}

function help(code: number, error?: string): number {
  const lines = [
    "tunslab — a userspace WireGuard tunnel with a WebAssembly data plane",
    "",
    "Usage: tunslab <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`),
    "",
    "Run `tunslab <command> --help` for a command's options.",
  ];
  if (error !== undefined) {
    console.error(`error: ${error}\n`);
    console.error(lines.join("\n"));
  } else {
    console.log(lines.join("\n"));
  }
  return code;
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") return help(0);
  // `help CMD` is `CMD --help`.
  if (name === "help") return rest.length === 0 ? help(0) : main([rest[0], "--help"]);
  if (name === "--version" || name === "-V") return COMMANDS.version.run([]);
  if (!Object.hasOwn(COMMANDS, name)) return help(2, `unknown command "${name}"`);
  const command: Command = COMMANDS[name];
  // A command that logs JSON Lines writes its errors as JSON Lines too.
  const json = command.logs === true && isJsonFormat(logFormatIn(rest));
  try {
    return await command.run(rest);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (e instanceof UsageError || code?.startsWith("ERR_PARSE_ARGS_")) {
      if (json) {
        writeFatal(true, `tunslab ${name}`, `${(e as Error).message} (see --help)`, "ERROR");
      } else {
        console.error(`error: ${(e as Error).message}`);
        console.error(`Run \`tunslab ${name} --help\` for usage.`);
      }
      return 2;
    }
    writeFatal(json, `tunslab ${name}`, e);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
