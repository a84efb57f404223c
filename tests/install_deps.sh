#!/usr/bin/env bash
# Installs what the test suite needs and is missing (Debian packages), so that
# `sudo npx -y deno@<pinned> task test` works on a fresh machine.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
[[ -x /usr/bin/rustc && -x /usr/bin/cargo ]] || need+=(rustc cargo)
[[ -d /usr/lib/rustlib/wasm32-unknown-unknown ]] || need+=(libstd-rust-dev-wasm32)
have ip || need+=(iproute2)
have ping || need+=(iputils-ping)
have iperf3 || need+=(iperf3)
have wireguard-go || need+=(wireguard-go)
have wg || need+=(wireguard-tools)
have openssl || need+=(openssl)
have setpriv || need+=(util-linux)
if ((${#need[@]} == 0)); then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then
  echo "tests need Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
