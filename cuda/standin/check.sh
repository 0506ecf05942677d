#!/usr/bin/env bash
# check.sh: the CUDA build run end to end on the CPU stand-in for the driver
# and cuBLAS; make gpu-standin-check runs it after make standin build. From
# the repository root:
#   1. MNIST in $GPUTRAIN_DATA (default data/mnist), fetched once;
#   2. the gpu-tagged tests of ./cuda (bin/standin/cuda.test, built by make
#      standin) with LD_LIBRARY_PATH=bin/standin, every TestGPU*, with
#      statement coverage of cuda/*_gpu.go: the run fails under COVER_MIN
#      percent (default 85); TestGPUFaults fails each driver and cuBLAS call
#      of a training run in turn (GPUTRAIN_STANDIN_FAIL), which covers the
#      error paths;
#   3. the same but TestGPUAccuracy with GPUTRAIN_STANDIN_ASYNC=1: stream work
#      deferred to the next synchronisation, as on a GPU;
#   4. go test ./cuda/standin/: each rule of the stand-in tripped by a wrong
#      call, the stand-in being the libcuda.so.1 loaded, the binary's imports
#      covered, and bin/gputrain-cuda train --device cuda on the stand-in
#      against the CPU build (1,000 images in file order, float64, --save
#      from the same --init: <= 1e-9 relative), and its eval, predict, show
#      --misclassified and --monitor against the CPU build's;
#   5. the GPU kit (make gpu-kit) run on the stand-in: its script end to end,
#      before any GPU sees it (its PyTorch part skips without a CUDA torch),
#      shrunk to fit: the quick GPU tests (steps 2 and 3 ran them all), no
#      benchmarks (the stand-in's speed means nothing; its GEMM is a triple
#      loop), one epoch of 1,000 images; then with BUDGET=60 and every GPU
#      test, which cannot all run in it: the run must end within 75 s with
#      report.md naming the part the budget killed; then with no device,
#      where the preflight must stop the run and say why;
#   6. bin/gputrain --device cuda (the CPU build, no command word) runs
#      bin/gputrain-cuda beside it, on the stand-in.
# GPUTRAIN_STANDIN_STRICT=1 throughout: memory left allocated when a context
# is destroyed or the primary context released fails the run (status 3).
# Each step prints its duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GPUTRAIN_DATA=${GPUTRAIN_DATA:-$PWD/data/mnist}
standin=$PWD/bin/standin

for f in "$standin/libcuda.so.1" "$standin/libcublas.so.11" "$standin/cuda.test" bin/gputrain bin/gputrain-cuda build/gpu-kit/run.sh; do
	if [ ! -f "$f" ]; then
		echo "check.sh: $f is missing: run make standin build gpu-kit first (or make gpu-standin-check)" >&2
		exit 1
	fi
done

step() {
	local name=$1
	shift
	local start=$SECONDS
	echo "== gpu-standin-check: $name"
	"$@"
	echo "== gpu-standin-check: $name: ok ($((SECONDS - start)) s)"
}

export GPUTRAIN_STANDIN_STRICT=1
# The kit's doctor runs its 20 steps on the stand-in's CPU, which a busy CI
# machine slows past the 6 s a GPU needs.
export LIMIT_DOCTOR=30
: "${COVER_MIN:=85}"
cover=$PWD/bin/standin/cover

# gpu_tests SKIP runs the GPU tests but SKIP, with coverage.
gpu_tests() {
	# The test binary runs in its package's directory, as go test would.
	(cd cuda && LD_LIBRARY_PATH=$standin "$standin/cuda.test" -test.count=1 -test.v \
		-test.run '^TestGPU' -test.skip "$1" -test.coverprofile "$cover.out")
}

# coverage sums the statements of cuda/*_gpu.go the last run covered.
coverage() {
	local pct
	pct=$(awk -F'[: ,]' 'NR > 1 && $1 ~ /_gpu\.go$/ { n += $(NF-1); if ($NF > 0) c += $(NF-1) }
		END { if (n) printf "%.1f", 100 * c / n; else print 0 }' "$cover.out")
	echo "statement coverage of cuda/*_gpu.go on the stand-in: $pct% (want >= $COVER_MIN%)"
	awk -v p="$pct" -v m="$COVER_MIN" 'BEGIN { exit !(p >= m) }'
}

gpu_tests_deferred() {
	GPUTRAIN_STANDIN_ASYNC=1 gpu_tests '^TestGPUAccuracy$'
}

gpu_kit() {
	rm -rf bin/standin/kit-out
	LD_LIBRARY_PATH=$standin TESTS='^TestGPU(CuBLASFound|Divergence|Cancel|OutOfMemory)$' BENCH='' EPOCHS=1 TRAIN_LIMIT=1000 SWEEP_LIMIT=20 SWEEP_SEEDS=2 \
		build/gpu-kit/run.sh bin/standin/kit-out
	grep -q $'^preflight\tok\t' bin/standin/kit-out/parts.tsv
	grep -q $'^tests\tok\t' bin/standin/kit-out/parts.tsv
	grep -q $'^train\tok\t' bin/standin/kit-out/parts.tsv
	grep -q $'^train-ch3\tok\t' bin/standin/kit-out/parts.tsv
	grep -q "^## Training, chapter 3's run" bin/standin/kit-out/report.md
	grep -q $'^sweep\tok\t' bin/standin/kit-out/parts.tsv
	grep -q '^| gputrain sweep of 8 networks (wall' bin/standin/kit-out/report.md
}

gpu_kit_budget() {
	local out=bin/standin/kit-budget start=$SECONDS took
	rm -rf "$out"
	LD_LIBRARY_PATH=$standin BUDGET=60 BENCH='' EPOCHS=1 TRAIN_LIMIT=1000 build/gpu-kit/run.sh "$out" || true
	took=$((SECONDS - start))
	echo "BUDGET=60 run.sh took $took s (want <= 75 s)"
	[ "$took" -le 75 ]
	grep -E '^\| [a-z0-9-]+ \| killed by the budget \(BUDGET=60 s\)' "$out/report.md"
}

gpu_kit_stop() {
	local out=bin/standin/kit-stop
	rm -rf "$out"
	if GPUTRAIN_STANDIN_DEVICES=0 LD_LIBRARY_PATH=$standin build/gpu-kit/run.sh "$out"; then
		echo "run.sh went on without a device" >&2
		return 1
	fi
	grep '^\*\*The run stopped at the preflight:\*\* FAIL: driver: no CUDA device' "$out/report.md"
	! grep -q '^tests' "$out/parts.tsv"
}

cpu_hands_off() {
	local err
	err=$(LD_LIBRARY_PATH=$standin bin/gputrain --device cuda --epochs 1 --train-limit 100 --eval none --quiet --data "$GPUTRAIN_DATA" 2>&1 >/dev/null)
	echo "$err"
	grep -q '^device: gputrain CPU stand-in (not a GPU)' <<<"$err"
}

step "MNIST in $GPUTRAIN_DATA" bin/gputrain data --data "$GPUTRAIN_DATA"
step "gpu-tagged tests of ./cuda on the stand-in" gpu_tests '^$'
step "coverage" coverage
step "the same, stream work deferred (GPUTRAIN_STANDIN_ASYNC=1)" gpu_tests_deferred
step "go test ./cuda/standin/ (rules, loading, training against the CPU build)" go test -count=1 -timeout 30m -v ./cuda/standin/
step "the GPU kit's run.sh on the stand-in" gpu_kit
step "the GPU kit with BUDGET=60: done within 75 s, the killed part named" gpu_kit_budget
step "the GPU kit without a device: the preflight stops it" gpu_kit_stop
step "bin/gputrain --device cuda runs bin/gputrain-cuda" cpu_hands_off
echo "gpu-standin-check: ok"
