/**
 * What a device runs over in the kernel: the TUN interface (opened, MTU, queue length, addresses,
 * link up) and the UDP socket; kernel routes go through the interface. Plus `SO_MARK` on a
 * socket (FwMark).
 *
 * @example
 * ```ts ignore
 * import { kernelIo } from "./kernel_io.ts";
 * const io = kernelIo("wg0", config, true, false); // needs CAP_NET_ADMIN
 * ```
 * @module
 */
import type { Config } from "../wg/config.ts";
import { TunDevice } from "../tun_device.ts";
import { UdpSocket } from "../udp_socket.ts";
import { addRoute, deleteRoute, setMtu, setTxQueueLen, setUp } from "../net_config.ts";
import { addAddresses } from "../netlink/address.ts";
import { errno, libc } from "../ffi/libc.ts";
import type { DeviceIo, DeviceOptions } from "./device.ts";

/**
 * Packets the TUN ring holds for us to read (the kernel's default is 500). It is the
 * tunnel's only outbound queue: the kernel drops what does not fit while the one loop is
 * busy or descheduled. At 500 a saturated `--no-offload` tunnel on 2 busy CPUs lost ~13%
 * of its TCP segments to the full ring (1.33 Gbit/s, 8 streams); at 2048 none (1.47).
 * wireguard-go queues about as much (1024 before encryption + 1024 being encrypted).
 */
export const TUN_TX_QUEUE_LEN = 2048;

/**
 * The kernel's I/O for {@link Device.create}: opens the TUN interface and sets its MTU, queue
 * length, addresses and link up, then binds the UDP socket; kernel routes go through the
 * interface. On failure what was opened is closed.
 */
export function kernelIo(
  name: string,
  config: Config,
  offload: boolean,
  bare: boolean,
  opts: DeviceOptions,
): DeviceIo {
  notAnotherKindOfLink(name);
  const tun = TunDevice.open(name, { offload });
  try {
    const ifname = tun.name;
    setMtu(ifname, config.interface.mtu);
    setTxQueueLen(ifname, TUN_TX_QUEUE_LEN);
    addAddresses(ifname, config.interface.addresses); // netlink: no `name:N` alias labels
    if (!bare) setUp(ifname, true);
    const udp = UdpSocket.bind({ port: config.interface.listenPort ?? 0, offload });
    return {
      tun,
      udp,
      // vnetHdr: offloads were asked for
      bindUdp: (port) => UdpSocket.bind({ port, offload: tun.vnetHdr }),
      routes: bare ? undefined : opts.kernelRoutes?.(ifname) ?? {
        add: (prefix) => addRoute(ifname, prefix),
        remove: (prefix) => deleteRoute(ifname, prefix),
      },
    };
  } catch (e) {
    tun.close();
    throw e;
  }
}

/** An interface of that name that is not a TUN device (a veth, a bridge, eth0): a clear error. */
export class NotTunError extends Error {
  override name = "NotTunError";
  constructor(readonly iface: string) {
    super(`\`${iface}' exists and is not a TUN interface: choose another name (--interface NAME)`);
  }
}

function notAnotherKindOfLink(name: string): void {
  if (name === "" || name.includes("%")) return; // a pattern the kernel expands
  try {
    Deno.statSync(`/sys/class/net/${name}`);
  } catch {
    return; // no such link: TUNSETIFF creates it
  }
  try {
    Deno.statSync(`/sys/class/net/${name}/tun_flags`);
  } catch {
    throw new NotTunError(name);
  }
}

const SOL_SOCKET = 1;
const SO_MARK = 36;

/** setsockopt(SO_MARK); returns 0 or a negative errno. */
export function setMark(fd: number, mark: number): number {
  const v = new Uint8Array(new Uint32Array([mark >>> 0]).buffer);
  const rc = libc().setsockopt(fd, SOL_SOCKET, SO_MARK, v, 4);
  return rc < 0 ? -errno() : 0;
}
