#!/usr/bin/env bash
# Installs what is needed and missing (Debian packages), so that the README's
# two commands work on a fresh machine:
#   bash tests/install_deps.sh        everything the test suite needs
#   bash tests/install_deps.sh demo   only what `tunslab demo` runs (no Rust toolchain)
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
if [[ ${1:-} != demo ]]; then
  [[ -x /usr/bin/rustc && -x /usr/bin/cargo ]] || need+=(rustc cargo)
  [[ -d /usr/lib/rustlib/wasm32-unknown-unknown ]] || need+=(libstd-rust-dev-wasm32)
  # rustc's /usr/bin/rust-lld (the wasm linker) is a link to lld-14, only recommended by apt.
  [[ -x /usr/bin/lld-14 ]] || need+=(lld-14)
  [[ -x /usr/bin/rustfmt ]] || need+=(rustfmt)
  [[ -x /usr/bin/cargo-clippy ]] || need+=(rust-clippy)
  # `deno task profile` and its test (Debian's /usr/bin/perf is linux-perf's wrapper).
  perf --version >/dev/null 2>&1 || need+=(linux-perf)
fi
have ip || need+=(iproute2)
have ping || need+=(iputils-ping)
have iperf3 || need+=(iperf3)
have wireguard-go || need+=(wireguard-go)
have wg || need+=(wireguard-tools)
have openssl || need+=(openssl)
have setpriv || need+=(util-linux)
have nft || need+=(nftables)
# Debian's resolvconf is only unpacked for the DNS test (it runs it in a private mount
# namespace); installing it would take over the host's /etc/resolv.conf.
RESOLVCONF_DEB=/var/cache/tunslab/resolvconf.deb
fetch_resolvconf() {
  [[ ${1:-} == demo || -s $RESOLVCONF_DEB || $(id -u) -ne 0 ]] && return 0
  mkdir -p /var/cache/tunslab
  (cd /var/cache/tunslab && apt-get download resolvconf >&2 && mv resolvconf_*.deb resolvconf.deb) ||
    (apt-get update -qq >&2 && cd /var/cache/tunslab && apt-get download resolvconf >&2 &&
      mv resolvconf_*.deb resolvconf.deb)
}
if ((${#need[@]} == 0)); then
  fetch_resolvconf "${1:-}"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fetch_resolvconf "${1:-}"
