/**
 * tunslab as a library: embed a WireGuard device, or use its pieces; or, with no privilege at all
 * (`--allow-ffi` and a UDP port), a userspace tunnel whose connections are `Deno.Conn`s.
 *
 * @example
 * ```ts
 * import { Device, parseConfigFile } from "./mod.ts";
 * // const { config } = await parseConfigFile("wg0.conf");
 * // const dev = await Device.create({ name: "wg0", config });
 * // await dev.run();
 * ```
 *
 * @example
 * ```ts
 * import { parseConfigFile, UserspaceTunnel } from "./mod.ts";
 * // await using tunnel = await UserspaceTunnel.start((await parseConfigFile("wg0.conf")).config);
 * // const conn = await tunnel.connect({ hostname: "10.0.0.1", port: 80 });
 * // for await (const conn of tunnel.listen({ port: 8080 })) conn.close();
 * ```
 * @module
 */
export { Device, type DeviceOptions, type DeviceStats } from "./src/device/device.ts";
export { Packet, PoolExhaustedError, type PoolStats, SlabPool } from "./src/wasm/slab.ts";
export { type Config, parseConfig, parseConfigFile } from "./src/wg/config.ts";
export { ConfigError } from "./src/wg/config_error.ts";
export {
  decodeBase64Key,
  encodeBase64Key,
  generatePresharedKey,
  generatePrivateKey,
  publicKey,
} from "./src/wg/keys.ts";
export { TunDevice } from "./src/tun_device.ts";
export { UdpSocket } from "./src/udp_socket.ts";
export { SyscallError } from "./src/ffi/syscall_error.ts";
export {
  TcpListener,
  UserspaceTunnel,
  type UserspaceTunnelOptions,
} from "./src/netstack/userspace_tunnel.ts";
export { TcpConn } from "./src/netstack/tcp_conn.ts";
