import { deepStrictEqual, equal, match, ok, throws } from "node:assert/strict";
import { EACCES, EAGAIN, EBADF, EEXIST, ENOENT, EPERM, errnoName } from "../src/ffi/errno.ts";
import { ifreq, ifreqName, InterfaceNameError } from "../src/ffi/ifreq.ts";
import {
  check,
  checkSetup,
  cString,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  libc,
  putAddress,
} from "../src/ffi/libc.ts";
import {
  capNetAdminHint,
  NEEDS_CAP_NET_ADMIN,
  SyscallError,
  tunOpenHint,
} from "../src/ffi/syscall_error.ts";
import { addRoute, getMtu, interfaceIndex, setMtu } from "../src/net_config.ts";
import { TunDevice, TUNSETIFF } from "../src/tun_device.ts";

Deno.test("check() turns ioctl on a bad fd into a SyscallError naming the call and EBADF", () => {
  const req = ifreq("tsl0");
  const r = libc().ioctl(-1, BigInt(TUNSETIFF), req.bytes);
  equal(r, -1);
  throws(() => check("ioctl(TUNSETIFF)", r), (e: unknown) => {
    ok(e instanceof SyscallError);
    equal(e.name, "SyscallError");
    equal(e.call, "ioctl(TUNSETIFF)");
    equal(e.errno, EBADF);
    equal(e.code, "EBADF");
    equal(e.message, "ioctl(TUNSETIFF) failed: EBADF (Bad file descriptor)");
    return true;
  });
});

Deno.test("check() returns -EAGAIN from an empty non-blocking read; checkSetup throws it", () => {
  const fd = checkSetup("eventfd", libc().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  try {
    const buf = new Uint8Array(new ArrayBuffer(8));
    equal(check("read(eventfd)", libc().read(fd, buf, 8n)), -EAGAIN);
    throws(
      () => checkSetup("read(eventfd)", libc().read(fd, buf, 8n)),
      /^SyscallError: read\(eventfd\) failed: EAGAIN \(Resource temporarily unavailable\)$/,
    );
    equal(check("close", libc().close(-1), { tolerate: [EBADF] }), -EBADF);
    equal(check("close", 0), 0);
    equal(check("close", 5n), 5);
  } finally {
    libc().close(fd);
  }
});

Deno.test("SyscallError adds the CAP_NET_ADMIN hint for EPERM and EACCES only", () => {
  equal(
    new SyscallError("ioctl(TUNSETIFF)", EPERM, capNetAdminHint(EPERM)).message,
    "ioctl(TUNSETIFF) failed: EPERM (Operation not permitted); " +
      "tunslab needs CAP_NET_ADMIN (run as root or grant the capability)",
  );
  equal(
    new SyscallError("open(/dev/net/tun)", EACCES, capNetAdminHint(EACCES)).message,
    `open(/dev/net/tun) failed: EACCES (Permission denied); ${NEEDS_CAP_NET_ADMIN}`,
  );
  equal(capNetAdminHint(EEXIST), undefined);
  equal(new SyscallError("x", 4095).message, "x failed: errno 4095 (Unknown error 4095)");
  equal(errnoName(EAGAIN), "EAGAIN");
});

Deno.test("interface names longer than 15 bytes are refused before any syscall", () => {
  const long = "tunslab-too-long"; // 16 bytes
  throws(() => ifreq(long), InterfaceNameError);
  throws(() => TunDevice.open(long), /Invalid interface name "tunslab-too-long": 16 bytes/);
  throws(() => setMtu(long, 1420), InterfaceNameError);
  throws(() => addRoute(long, "10.0.0.0/8"), InterfaceNameError);
  throws(() => interfaceIndex("tsl" + "\u00e9".repeat(7)), InterfaceNameError); // 10 chars, 17 bytes
  throws(() => interfaceIndex(""), InterfaceNameError);
  throws(() => interfaceIndex("a/b"), InterfaceNameError);
  const ok15 = ifreq("abcdefghijklmno");
  equal(ifreqName(ok15.bytes), "abcdefghijklmno");
  equal(ok15.bytes[15], 0);
});

Deno.test("read-only ioctls work unprivileged: lo has index 1 and an MTU", () => {
  equal(interfaceIndex("lo"), 1);
  ok(getMtu("lo") >= 1280);
  throws(
    () => interfaceIndex("tsl-nonexistent"),
    /^SyscallError: if_nametoindex\(tsl-nonexistent\) failed: ENODEV \(No such device\)$/,
  );
});

Deno.test("cString and putAddress build C data without BigInt", () => {
  deepStrictEqual([...cString("ab")], [0x61, 0x62, 0]);
  throws(() => cString("a\0b"), TypeError);
  const u32 = new Uint32Array(2);
  putAddress(u32, 0, 0x7f12_3456_789a);
  deepStrictEqual([...u32], [0x3456_789a, 0x7f12]);
});

Deno.test("loading: NotCapable/PermissionDenied pass through, a bad TUNSLAB_LIBC is a LibcLoadError", async () => {
  const child = new URL("./fixtures/libc_load_child.ts", import.meta.url).pathname;
  const run = async (perms: string[], env: Record<string, string>) => {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", ...perms, child],
      env,
      stdout: "piped",
    }).output();
    return JSON.parse(new TextDecoder().decode(o.stdout));
  };
  deepStrictEqual(await run(["--allow-env", "--allow-read", "--allow-ffi"], {}), { loaded: true });
  const denied = await run(["--allow-env=TUNSLAB_LIBC", "--allow-read"], {});
  equal(denied.name, "NotCapable");
  ok(/ffi access/.test(denied.message), denied.message);
  const bad = await run(["--allow-env=TUNSLAB_LIBC", "--allow-ffi"], {
    TUNSLAB_LIBC: "/nonexistent/libc.so",
  });
  equal(bad.name, "LibcLoadError");
  equal(bad.message, 'Cannot load libc from "/nonexistent/libc.so" (set TUNSLAB_LIBC to override)');
  ok(bad.cause.includes("No such file"), bad.cause);
});

Deno.test("tunOpenHint names the missing node, the device's mode and owner, or CAP_NET_ADMIN", () => {
  match(tunOpenHint(ENOENT)!, /modprobe tun/);
  match(
    tunOpenHint(EACCES)!,
    new RegExp(`/dev/net/tun .*not open to uid ${Deno.uid()}.*CAP_NET_ADMIN`),
  );
  equal(tunOpenHint(EPERM), NEEDS_CAP_NET_ADMIN);
});
