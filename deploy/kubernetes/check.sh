#!/usr/bin/env bash
# Renders each kustomize overlay with `kubectl kustomize` (an error fails the check), then
# validates every rendered object offline against the Kubernetes API schemas with the npm
# package kubernetes-models (validate/validate.mjs; its node_modules is installed by `npm ci`
# from validate/package-lock.json and ignored by git). No cluster is needed.
#
# Tools: node and npm are on every machine of this project, so under CI=true a missing one
# fails. kubectl is not: Debian's package (kubernetes-client) is 1.20, whose kustomize predates
# components, so there is no apt package to install; without kubectl the check says so in
# one line and skips, under CI too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
overlays=(dev production)

if ! command -v kubectl >/dev/null 2>&1; then
  echo "kubernetes check: skipped; kubectl (with kustomize) is not installed, and Debian has none recent enough"
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [[ "${CI:-}" == true ]]; then
    echo "kubernetes check: node and npm are missing" >&2; exit 1
  fi
  echo "kubernetes check: skipped; node and npm (Node.js) are not installed"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

( cd "$here/validate" && npm ci --no-audit --no-fund --loglevel=error >/dev/null )

failed=0
for overlay in "${overlays[@]}"; do
  if ! kubectl kustomize "$here/overlays/$overlay" > "$work/$overlay.yaml" 2> "$work/$overlay.err"; then
    echo "kubernetes check: FAILED: kubectl kustomize overlays/$overlay:"
    cat "$work/$overlay.err"
    failed=1
    continue
  fi
  node "$here/validate/validate.mjs" "overlays/$overlay" < "$work/$overlay.yaml" || failed=1
done
if (( failed )); then
  echo "kubernetes check: FAILED"; exit 1
fi
echo "kubernetes check: ${overlays[*]} render, and every object passes schema validation"
