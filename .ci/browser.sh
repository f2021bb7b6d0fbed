#!/usr/bin/env bash
# Browser tests: installs Debian's Chromium, its WebDriver and Japanese fonts when missing
# (idempotent; no browser download), then runs the headless-Chromium tests of the
# integration binary. Called from .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# browser
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo test -p kizuki --test it browser:: -- --test-threads=1
echo "browser screenshots: target/tmp/screenshots/"
