#!/usr/bin/env bash
# Screenshot of a report page in headless Chromium: render-report.sh IN.html OUT.png [WxH]
#
# Installs Debian's chromium when it is missing (needs root and apt). Exit codes: 0 written,
# 77 chromium cannot be installed or started (callers skip, visibly), anything else a failure.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 IN.html OUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
in=$(realpath "$1")
out=$2
size=${3:-1200x1600}
[[ -r $in ]] || { echo "render-report: cannot read $1" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "render-report: installing chromium (apt-get install -y chromium)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/tmp/render-report-apt.log 2>&1; then
      # A stale package list is the usual cause; refresh once and retry.
      DEBIAN_FRONTEND=noninteractive apt-get update >>/tmp/render-report-apt.log 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >>/tmp/render-report-apt.log 2>&1 || true
    fi
  fi
  browser=$(command -v chromium || true)
  if [[ -z $browser ]]; then
    echo "render-report: chromium is not installed and could not be installed (see /tmp/render-report-apt.log)" >&2
    exit 77
  fi
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
# No network, no first-run UI, no sync or component updates: the page must render on its own.
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="${size/x/,}" \
    --screenshot="$(realpath -m "$out")" "file://$in" >"$profile/log" 2>&1; then
  echo "render-report: chromium failed:" >&2
  tail -20 "$profile/log" >&2
  exit 77
fi
if [[ ! -s $out ]]; then
  echo "render-report: chromium wrote no screenshot" >&2
  tail -20 "$profile/log" >&2
  exit 1
fi
echo "$out"
