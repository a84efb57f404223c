/**
 * The kernel's TUN interface numbers (linux/if_tun.h): ioctls, interface flags and the
 * TUN_F_* offload bits, as src/tun_device.ts uses them (and re-exports them).
 *
 * @example
 * ```ts
 * import { TUN_OFFLOADS, TUN_F_TSO4 } from "./tun_abi.ts";
 * console.log((TUN_OFFLOADS & TUN_F_TSO4) !== 0); // true
 * ```
 * @module
 */

/** `_IOW('T', 202, int)` */
export const TUNSETIFF = 0x400454ca;
/** `_IOW('T', 216, int)` */
export const TUNSETVNETHDRSZ = 0x400454d8;
/** `_IOW('T', 208, unsigned int)`: the argument is the flag word itself, not a pointer. */
export const TUNSETOFFLOAD = 0x400454d0;
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
export const TUN_F_TSO_ECN = 0x08;
export const TUN_F_USO4 = 0x20;
export const TUN_F_USO6 = 0x40;
/** What `offload` asks for first; without USO (kernels before 6.2) if that is refused. */
export const TUN_OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
export const TUN_UDP_OFFLOADS = TUN_F_USO4 | TUN_F_USO6;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;
