#!/usr/bin/env bash
# Checks the release archive as an operator would use it: unpacked outside the source tree,
# with no Maven and no JAVA_HOME, bin/dedupe runs a node from the archive's jars, the CLI
# records an id and then sees it as a duplicate, and SIGTERM stops the node cleanly.
#
#   dist/src/test/release-check.sh dist/target/dedupe-VERSION.tar.gz
set -euo pipefail

archive="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d)"
node_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill -KILL "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "release-check: FAILED: $*" >&2; [[ -f "$work/node.log" ]] && tail -n 40 "$work/node.log" >&2; exit 1; }

tar -xzf "$archive" -C "$work"
home="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'dedupe-*')"
[[ -x "$home/bin/dedupe" ]] || fail "no executable bin/dedupe in the archive"
ls "$home"/lib/dedupe-server-*.jar >/dev/null 2>&1 || fail "no dedupe-server jar in lib/"
[[ ! -e "$home/pom.xml" ]] || fail "the archive holds a pom.xml: it would be taken for a source tree"

# What an operator's host has: a shell, coreutils, a JRE; not this checkout's Maven wrapper.
run() { (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" "$home/bin/dedupe" "$@"); }

run --help >/dev/null || fail "'bin/dedupe --help' failed"
if run bench >/dev/null 2>"$work/bench.err"; then fail "'bench' should refuse in a release"; fi
grep -q "source checkout" "$work/bench.err" || fail "'bench' did not say why: $(cat "$work/bench.err")"

(cd "$work" && exec env -i PATH=/usr/bin:/bin HOME="$work" "$home/bin/dedupe" server \
    --config "$home/config/dedupe.example.yaml" --data-dir "$work/data" \
    --grpc-port 0 --ops-port 0 --set grpc.host=127.0.0.1 --set ops.host=127.0.0.1 \
    --set storage.block-cache.bytes=16MiB --set storage.write-buffer.bytes=16MiB \
    > "$work/node.log" 2>&1) &
node_pid=$!

port=""
for _ in $(seq 1 600); do   # waits for the node's line, not for a time; gives up after ~2 min
  port="$(sed -n 's/.*dedupe node serving: gRPC on port \([0-9]*\).*/\1/p' "$work/node.log" | head -n1)"
  [[ -n "$port" ]] && break
  kill -0 "$node_pid" 2>/dev/null || fail "the node exited before serving"
  sleep 0.2
done
[[ -n "$port" ]] || fail "the node did not say it was serving"

first="$(run insert --target "127.0.0.1:$port" release-check order-7)" || fail "insert failed: $first"
grep -q NEW <<<"$first" || fail "first insert was not NEW: $first"
second="$(run insert --target "127.0.0.1:$port" release-check order-7)" || true
grep -q DUPLICATE <<<"$second" || fail "second insert was not DUPLICATE: $second"

kill -TERM "$node_pid"
status=0
wait "$node_pid" || status=$?
node_pid=""
[[ "$status" == 0 || "$status" == 143 ]] || fail "the node exited $status on SIGTERM"
echo "release-check: $(basename "$archive") runs a node from its jars, outside the source tree"
