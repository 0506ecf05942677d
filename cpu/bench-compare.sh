#!/usr/bin/env bash
# bench-compare.sh BASE [COUNT]: BenchmarkEpoch of this tree against git
# revision BASE, side by side in one run. Both test binaries are built
# first, then run alternately COUNT times (default 10), so that the shared
# machine's noise falls on both alike; benchstat compares the two.
#
#   BENCH   the benchmarks to run (default: the book's point in float32 and
#           float64, and [784,1000,10] at batch 100)
#   BENCHTIME  each run's -test.benchtime (default 3x; 1x for whole
#           epochs of chapter 6, BenchmarkEpochLayers)
set -euo pipefail
base=${1:?usage: bench-compare.sh BASE [COUNT]}
count=${2:-10}
benchtime=${BENCHTIME:-3x}
bench=${BENCH:-'BenchmarkEpoch/sizes=\[784_30_10\]/batch=10/float(32|64)$|BenchmarkEpoch/sizes=\[784_1000_10\]'}
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

git -C "$root" worktree add --detach -q "$tmp/base" "$base"
(cd "$tmp/base" && go test -c -o "$tmp/old.test" ./cpu/)
(cd "$root" && go test -c -o "$tmp/new.test" ./cpu/)
export GPUTRAIN_DATA=${GPUTRAIN_DATA:-$root/data/mnist}
cd "$root/cpu"
for i in $(seq "$count"); do
	echo "round $i of $count" >&2
	"$tmp/old.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" >>"$tmp/old.txt"
	"$tmp/new.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" >>"$tmp/new.txt"
done

go run "$benchstat" "base=$tmp/old.txt" "new=$tmp/new.txt"
