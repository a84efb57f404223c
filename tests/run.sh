#!/usr/bin/env bash
# The whole suite: installs missing packages, runs the data plane's Rust unit
# tests on the host and the Deno tests, and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash tests/install_deps.sh || exit 1
deno_bin=${DENO:-deno}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 ignored=0
(cd wasm && RUSTC=/usr/bin/rustc /usr/bin/cargo test --offline --quiet 2>&1) | tee "$log"
rust_rc=${PIPESTATUS[0]}
while read -r p f i; do
  passed=$((passed + p)) failed=$((failed + f)) ignored=$((ignored + i))
done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' "$log")
if ((rust_rc != 0)) && ! grep -q '^test result:' "$log"; then failed=$((failed + 1)); fi
"$deno_bin" test -A --no-check=remote tests/ "$@" 2>&1 | tee "$log"
deno_rc=${PIPESTATUS[0]}
line=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| ' | tail -n 1)
p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")
f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
i=$(sed -nE 's/.* ([0-9]+) ignored.*/\1/p' <<<"$line")
passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) ignored=$((ignored + ${i:-0}))
if ((deno_rc != 0)) && [[ -z $line ]]; then failed=$((failed + 1)); fi
echo "$passed passed, $failed failed, $ignored skipped"
((rust_rc == 0 && deno_rc == 0 && failed == 0))
