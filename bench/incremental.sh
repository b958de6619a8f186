#!/usr/bin/env bash
# incremental.sh HEDUI DATA INDEX FROM: issue 5's incremental benchmark.
#
# DATA is a `hedui gen` folder and INDEX its index (`hedui index build
# --manifest DATA/sources.yaml --index INDEX`, then one `hedui run --index
# INDEX` or incremental run for a baseline). Six rounds, numbered FROM on:
# each changes 1 % of the pension rows (bench/pensionedit, every 100th
# row's amount) and times `hedui run --mode incremental`, whose index
# update is part of the round; a plain full run is timed after the third
# and the sixth. One line per run: wall and CPU seconds, peak memory.
# With NO_REWARM=1 the index is not warmed again after each full run.
# Outputs go to DATA/../incremental-runs. The index and the sources are read
# into the page cache first (`hedui index warm`, then the sources); compare
# rounds only with full runs of the same window (the host's speed varies).
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 HEDUI DATA INDEX FROM" >&2
  exit 2
fi
hedui=$(realpath "$1"); data=$(realpath "$2"); index=$(realpath "$3"); from=$4
out=$(dirname "$data")/incremental-runs
mkdir -p "$out"
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
edit=$tools/pensionedit
(cd "$(dirname "$0")/.." && go build -o "$edit" ./bench/pensionedit)
timed() { # label command...: runs the command, prints its times
  local label=$1; shift
  /usr/bin/time -f "$label %e s wall %U user %S sys %M KB" "$@" > "$out/$label.log" 2> "$out/$label.err" || {
    cat "$out/$label.err" >&2; exit 1; }
  tail -1 "$out/$label.err"
}
"$hedui" index warm --index "$index" >&2
cat "$data"/sources/* "$data"/*.parquet > /dev/null
for i in 0 1 2 3 4 5; do
  r=$((from + i))
  "$edit" "$data/sources/pension.parquet" "$r" > /dev/null
  rm -rf "$out/round$r"
  timed "round$r" "$hedui" run --mode incremental --manifest "$data/sources.yaml" --index "$index" --out "$out/round$r"
  grep -h "^stages" "$out/round$r.log" || true
  if [ $i = 2 ] || [ $i = 5 ]; then
    rm -rf "$out/full"
    timed "full$r" "$hedui" run --manifest "$data/sources.yaml" --out "$out/full"
    # The full run's memory and outputs push part of the index out of the
    # page cache: each round starts from a warm index, as each full run
    # starts from warm sources (not timed).
    [ -n "${NO_REWARM:-}" ] || "$hedui" index warm --index "$index" > /dev/null
  fi
done
