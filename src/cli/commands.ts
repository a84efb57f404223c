/**
 * The subcommand table: name → one-line summary and runner. Runners are
 * imported lazily so `genkey` does not load the data plane.
 * @module
 */

/** One subcommand. */
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
  /** Logs through LogTape (`--log-format auto|json|text`): its errors follow that format too. */
  logs?: boolean;
}

/** Every subcommand, in help order. */
export const COMMANDS: Record<string, Command> = {
  up: {
    summary: "bring up a tunnel from a wg-quick style config and run it in the foreground",
    run: async (a) => (await import("./up_cmd.ts")).up(a),
    logs: true,
  },
  proxy: {
    summary: "a WireGuard peer with its own TCP/IP stack: SOCKS5 and port forwards, no root",
    run: async (a) => (await import("./proxy_cmd.ts")).proxy(a),
    logs: true,
  },
  down: {
    summary: "stop the tunslab `up` running an interface, like `wg-quick down`",
    run: async (a) => (await import("./control_cmd.ts")).down(a),
  },
  reload: {
    summary: "apply a changed config file to a running tunnel without dropping sessions",
    run: async (a) => (await import("./control_cmd.ts")).reload(a),
  },
  save: {
    summary: "write a running tunnel's configuration back to its file, like `wg-quick save`",
    run: async (a) => (await import("./control_cmd.ts")).save(a),
  },
  demo: {
    summary: "two network namespaces, a tunnel between them, pings and a TCP transfer (root)",
    run: async (a) => (await import("./demo_cmd.ts")).demo(a),
  },
  strip: {
    summary: "print the part of a config that `wg setconf` accepts, like `wg-quick strip`",
    run: async (a) => (await import("./strip_cmd.ts")).strip(a),
  },
  show: {
    summary: "show interfaces served on /var/run/wireguard, like `wg show` (also --json)",
    run: async (a) => (await import("./show_cmd.ts")).show(a),
  },
  genkey: {
    summary: "print a new private key",
    run: async (a) => (await import("./keys_cmd.ts")).genkey(a),
  },
  pubkey: {
    summary: "read a private key on stdin, print its public key",
    run: async (a) => (await import("./keys_cmd.ts")).pubkey(a),
  },
  genpsk: {
    summary: "print a new preshared key",
    run: async (a) => (await import("./keys_cmd.ts")).genpsk(a),
  },
  version: {
    summary: "print the version",
    run: async (a) => (await import("./version_cmd.ts")).version(a),
  },
};
