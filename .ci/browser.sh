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
# axe-core for the page sweep's accessibility checks, from the npm registry (once).
axe_dir=target/axe
axe_version=4.10.3
if [ ! -f "$axe_dir/package/axe.min.js" ]; then
  mkdir -p "$axe_dir"
  (cd "$axe_dir" && npm pack --silent "axe-core@$axe_version" >/dev/null &&
    tar xzf "axe-core-$axe_version.tgz" package/axe.min.js)
fi
# --nocapture: the sweep prints how many pages it saw and, on failure, every finding.
KIZUKI_TEST_AXE="$PWD/$axe_dir/package/axe.min.js" \
  cargo test --workspace --test it -- browser:: sweep:: --test-threads=1 --nocapture
echo "browser screenshots: target/tmp/screenshots/"
