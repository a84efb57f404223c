/**
 * The one libc symbol table, its lazy loader, errno and the `check()` every return code goes through.
 *
 * Pointer conventions, measured on Deno 2.9 / x86_64 (see the report in the PR):
 * - A `"buffer"` parameter given a typed array over a long-lived `ArrayBuffer` costs nothing extra
 *   and allocates nothing. Hot calls therefore take their pointer through a small, preallocated
 *   struct in a JS `ArrayBuffer` (an `iovec`, `msghdr` or `mmsghdr` array) whose pointer fields
 *   are written as two u32 halves per packet: `readv`, `writev`, `sendmsg`, `recvmmsg`, `sendmmsg`.
 * - A `"usize"`/`"u64"` parameter is typed `bigint` by Deno 2.9. The runtime also accepts a plain
 *   `number`, but every value outside the small-integer range (every real address) is then boxed
 *   into a HeapNumber per call (~150 scavenges per 5 M calls in a microbench, against 0 for the
 *   iovec route). So 64-bit parameters here carry only setup values (ioctl requests, sizes as
 *   `8n`, a precomputed `nfds`); `sendto`/`recvfrom` exist for completeness, not for packets.
 * - 64-bit results (`"isize"`, `"i64"`) come back as a BigInt on every call. `ssize_t` results
 *   are therefore declared `"i32"`: every count here is at most one datagram, one packet or one
 *   batch (< 2^31), and on x86_64/aarch64 the low half of rax/x0 is exactly that value (and -1).
 *
 * Variadic C functions (`open`, `ioctl`, `fcntl`) are declared with their fixed arity; on the
 * SysV x86_64 and AAPCS64 ABIs integer/pointer variadic arguments travel exactly like fixed ones.
 *
 * @example
 * ```ts
 * import { check, libc } from "./libc.ts";
 * const fd = check("eventfd", libc().eventfd(0, 0));
 * libc().close(fd);
 * ```
 * @module
 */

import { EAGAIN, EINTR } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

/** libc symbols. Comments give the C prototype; pointer parameters are explained in the module doc. */
export const LIBC_SYMBOLS = {
  /** int open(const char *pathname, int flags, mode_t mode); */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count);  (ssize_t as i32, see module doc) */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t readv(int fd, const struct iovec *iov, int iovcnt); */
  readv: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t writev(int fd, const struct iovec *iov, int iovcnt); */
  writev: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *arg); */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, unsigned long arg);  (TUNSETOFFLOAD takes the value) */
  ioctl_value: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  /** int fcntl(int fd, int cmd, long arg); */
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  /** int socket(int domain, int type, int protocol); */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen); */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen); */
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  /** int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen); */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int recvmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags, struct timespec *timeout); */
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  /** int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags); */
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  /** ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags); */
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t sendto(int sockfd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen); */
  sendto: { parameters: ["i32", "usize", "usize", "i32", "usize", "u32"], result: "i32" },
  /** ssize_t recvfrom(int sockfd, void *buf, size_t len, int flags, struct sockaddr *src_addr, socklen_t *addrlen); */
  recvfrom: { parameters: ["i32", "usize", "usize", "i32", "usize", "usize"], result: "i32" },
  /** ssize_t send(int sockfd, const void *buf, size_t len, int flags);  (netlink requests) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t recv(int sockfd, void *buf, size_t len, int flags);  (netlink replies) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen);  (O_NONBLOCK: EINPROGRESS) */
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int listen(int sockfd, int backlog); */
  listen: { parameters: ["i32", "i32"], result: "i32" },
  /** int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags); */
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int shutdown(int sockfd, int how); */
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  /** ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags);  (local TCP into slots) */
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int epoll_create1(int flags); */
  epoll_create1: { parameters: ["i32"], result: "i32" },
  /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event); */
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);  timeout 0 */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout);  synchronous: use with timeout 0 */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout);  on a worker thread: errno meaningless */
  poll_nonblocking: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** unsigned int if_nametoindex(const char *ifname); */
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  /** int eventfd(unsigned int initval, int flags); */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** long syscall(SYS_io_uring_setup, unsigned entries, struct io_uring_params *p); */
  io_uring_setup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i32" },
  /** long syscall(SYS_io_uring_enter, int fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t *sig); */
  io_uring_enter: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "u32", "u32", "pointer"],
    result: "i32",
  },
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  /** int munmap(void *addr, size_t length); */
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  /** sighandler_t signal(int signum, sighandler_t handler);  (SIG_DFL = 0, SIG_IGN = 1) */
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
  /** int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5); */
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res);  on a worker thread (it may block on DNS) */
  getaddrinfo: {
    parameters: ["buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  /** void freeaddrinfo(struct addrinfo *res); */
  freeaddrinfo: { parameters: ["pointer"], result: "void" },
  /** const char *gai_strerror(int errcode); */
  gai_strerror: { parameters: ["i32"], result: "pointer" },
  /** int *__errno_location(void); */
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded symbols. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/** dlopen failed for another reason than a permission. */
export class LibcLoadError extends Error {
  override name = "LibcLoadError";
  constructor(readonly path: string, cause: unknown) {
    super(`Cannot load libc from "${path}" (set TUNSLAB_LIBC to override)`, { cause });
  }
}

let symbols: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function load(): Libc {
  let path = "libc.so.6";
  try {
    path = Deno.env.get("TUNSLAB_LIBC") ?? path;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied)) {
      throw e;
    }
    // No --allow-env: keep the default; an explicit override needs the permission anyway.
  }
  let lib: Deno.DynamicLibrary<typeof LIBC_SYMBOLS>;
  try {
    lib = Deno.dlopen(path, LIBC_SYMBOLS);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new LibcLoadError(path, e);
  }
  // errno lives in thread-local storage; the pointer is fixed for this (the JS) thread, and every
  // synchronous FFI call runs on it, so one view serves all reads.
  errnoView = new Deno.UnsafePointerView(lib.symbols.__errno_location()!);
  return lib.symbols;
}

/** The libc symbols, loaded on first use (needs `--allow-ffi`, and `--allow-env=TUNSLAB_LIBC` to override). */
export function libc(): Libc {
  return symbols ??= load();
}

/** errno of the calling thread. Meaningful only right after a failing synchronous call. */
export function errno(): number {
  if (errnoView === undefined) libc();
  return errnoView!.getInt32();
}

/** Options for {@link check}. */
export interface CheckOptions {
  /** errno values returned as `-errno` instead of thrown (EAGAIN and EINTR always are). */
  readonly tolerate?: readonly number[];
  /** Extra advice appended to the message for this errno, e.g. {@link capNetAdminHint}. */
  readonly hint?: (errno: number) => string | undefined;
}

/**
 * The one place a libc return code is judged. `r >= 0` is returned as a number; otherwise errno is
 * read at once and `-EAGAIN`/`-EINTR` (and any `tolerate`d errno) returned negated for the caller
 * to decide; anything else throws a {@link SyscallError} naming `call`.
 *
 * @example
 * ```ts
 * import { check, libc } from "./libc.ts";
 * try {
 *   check("close", libc().close(-1));
 * } catch (e) {
 *   console.log((e as Error).message); // "close failed: EBADF (Bad file descriptor)"
 * }
 * ```
 */
export function check(call: string, r: number | bigint, opts?: CheckOptions): number {
  const n = Number(r);
  if (n >= 0) return n;
  const e = errno();
  if (e === EAGAIN || e === EINTR) return -e;
  if (opts?.tolerate?.includes(e)) return -e;
  throw new SyscallError(call, e, opts?.hint?.(e));
}

/**
 * {@link check} for setup calls that have no use for `-EAGAIN`/`-EINTR`: every failure throws.
 */
export function checkSetup(call: string, r: number | bigint, opts?: CheckOptions): number {
  const n = check(call, r, opts);
  if (n < 0 && !opts?.tolerate?.includes(-n)) throw new SyscallError(call, -n, opts?.hint?.(-n));
  return n;
}

/** A NUL-terminated UTF-8 copy of `s` in its own `ArrayBuffer` (stable address). Throws on an embedded NUL. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) throw new TypeError(`C string contains NUL: ${JSON.stringify(s)}`);
  const out = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  out.set(bytes);
  return out;
}

/**
 * Numeric address of a view's first byte. Only for views over a `new ArrayBuffer(...)` or
 * `WebAssembly.Memory` buffer kept alive by the caller for as long as the address is used.
 */
export function addressOf(view: ArrayBufferView | ArrayBuffer): number {
  const p = Deno.UnsafePointer.of(view);
  if (p === null) throw new TypeError("addressOf: zero-length buffer has no address");
  return Number(Deno.UnsafePointer.value(p));
}

/** Writes a 64-bit address as two little-endian u32 halves at `u32[i]`, `u32[i+1]`: no BigInt. */
export function putAddress(u32: Uint32Array, i: number, address: number): void {
  u32[i] = address >>> 0;
  u32[i + 1] = (address / 4294967296) >>> 0;
}

// Shared constants (Linux, x86_64/aarch64).
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
