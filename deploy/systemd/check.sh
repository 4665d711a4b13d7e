#!/usr/bin/env bash
# Validates deploy/systemd/dedupe.service with `systemd-analyze verify`, any warning a failure.
# The unit names /opt/dedupe/bin/dedupe, which verify requires to exist and be executable; the
# check verifies a copy whose ExecStart points at a stand-in in a temporary directory instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [[ "${CI:-}" == true ]]; then
    echo "systemd check: systemd-analyze is missing (apt-get install systemd)" >&2; exit 1
  fi
  echo "systemd check: skipped; systemd-analyze not installed (apt-get install systemd)"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
printf '#!/bin/sh\nexit 0\n' > "$work/bin/dedupe"
chmod +x "$work/bin/dedupe"
sed "s|/opt/dedupe/bin/dedupe|$work/bin/dedupe|" "$here/dedupe.service" > "$work/dedupe.service"

out="$(systemd-analyze verify "$work/dedupe.service" 2>&1)" || {
  echo "systemd check: FAILED:"; echo "$out"; exit 1; }
if [[ -n "$out" ]]; then
  echo "systemd check: FAILED (warnings count as failures):"; echo "$out"; exit 1
fi
echo "systemd check: dedupe.service verifies with no warning"
