#!/usr/bin/env bash
# Checks deploy/monitoring: the alert rules (`promtool check rules`), their unit tests
# (`promtool test rules`), the Grafana dashboard (well-formed, its queries parsed by promtool as
# PromQL, its datasource an input), the runbook links, and, given scrapes of real nodes, that
# every metric name the rules, their tests and the dashboard use is one the server exports.
#
#   deploy/monitoring/check.sh [--wait SECONDS] [--metrics URL|FILE]...
#
# --metrics: a node's /metrics (http://HOST:OPS_PORT/metrics) or a saved scrape; give every
# node of a cluster that has served some calls (.ci/run passes its 3-node smoke cluster's).
# --wait: how long to scrape again for meters that appear only after calls and a maintenance
# pass (default 60). Without --metrics the name check is skipped, with one line saying so.
# Without promtool: in CI (CI set) a failure; elsewhere one line saying how to get it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

sources=()
wait=60
while (( $# > 0 )); do
  case "$1" in
    --metrics) sources+=("$2"); shift 2 ;;
    --wait) wait="$2"; shift 2 ;;
    *) echo "usage: $0 [--wait SECONDS] [--metrics URL|FILE]..." >&2; exit 2 ;;
  esac
done

command -v python3 >/dev/null 2>&1 || { echo "monitoring check: needs python3"; exit 1; }
python3 "$here/check_monitoring.py" static

if command -v promtool >/dev/null 2>&1; then
  promtool check rules "$here/prometheus/dedupe-alerts.yaml"
  # The test file names its rule file relative to itself.
  (cd "$here/prometheus" && promtool test rules dedupe-alerts.test.yaml)
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 "$here/check_monitoring.py" dashboard-rules "$tmp/dashboard-queries.yaml"
  promtool check rules "$tmp/dashboard-queries.yaml"
elif [[ -n "${CI:-}" ]]; then
  echo "monitoring check: promtool is missing (Debian: apt-get install prometheus)"
  exit 1
else
  echo "promtool: not installed; skipping promtool check/test rules (Debian/Ubuntu: apt-get install prometheus, which ships promtool)"
fi

if (( ${#sources[@]} > 0 )); then
  python3 "$here/check_monitoring.py" names --wait "$wait" "${sources[@]}"
else
  echo "metric names: not checked; pass --metrics http://HOST:OPS_PORT/metrics for each node of a cluster that has served calls"
fi
echo "monitoring check: passed"
