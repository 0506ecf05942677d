#!/usr/bin/env bash
# run.sh OUTDIR: gputrain's first run on an NVIDIA GPU, prepared by
# `make gpu-kit`. Needs only bash, the NVIDIA driver and some cuBLAS (11.8
# or later: the system's, or the pip wheel PyTorch brings); no Go, no
# network. It runs, each part whatever the last one did:
#   1. the GPU tests of ./cuda (cuda.test -test.run GPU -test.v),
#   2. the GPU benchmarks: the book's epoch, [784,1024,1024,10] at batch 256
#      with its matmul GFLOP/s, and cuBLAS SGEMM at the same shapes,
#   3. gputrain-cuda train --device cuda for 3 epochs of the book's run,
#      then of chapter 3's headline run (cross-entropy, λ 5, scaled init,
#      [784,100,10] at η 0.5),
#   4. where python3 has torch with CUDA: PyTorch on the GPU at the book's
#      settings from the same initial network, taking turns with gputrain,
#      two rounds (autograd, explicit backprop, explicit backprop replayed
#      from a CUDA graph),
# then writes OUTDIR/report.md and OUTDIR/report.json (python3 does; a
# plain report.md without it). Exit status: 1 if a GPU test failed or did
# not run, 2 for bad usage, else 0.
set -uo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
kit=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: "${EPOCHS:=3}"     # epochs of each training run
: "${TRAIN_LIMIT:=0}" # train on the first N training images (0: all), in part 3
: "${TESTS=GPU}"     # the tests of part 1 (-test.run)
: "${BENCH=Epoch|SGEMM}" # the benchmarks of part 2 (-test.bench); empty: skip them
# The last three shrink a run where speed means nothing: cuda/standin/check.sh
# runs the kit on the CPU stand-in for the driver that way.
: "${ROUNDS:=2}"     # rounds of the side-by-side comparison
: "${TEST_TIMEOUT:=300s}"

log() { echo "== gpu-kit: $*" | tee -a "$out/run.log"; }
status() { echo "$1 $2" >>"$out/status.txt"; }
: >"$out/status.txt"
: >"$out/run.log"

for f in gputrain-cuda cuda.test; do
	if ! gzip -dc "$kit/$f.gz" >"$work/$f"; then
		log "cannot unpack $kit/$f.gz"
		exit 2
	fi
	chmod +x "$work/$f"
done
export GPUTRAIN_DATA="$kit/mnist"

# cuBLAS: the system's if the dynamic linker knows one, else the pip
# wheel's (nvidia-cublas-cu12/13, which PyTorch installs) through python3.
if [ -z "${GPUTRAIN_CUBLAS:-}${GPUTRAIN_CUBLAS_DIR:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so'; then
	if command -v python3 >/dev/null 2>&1; then
		site=$(python3 - <<'PY' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("nvidia.cublas")
if spec and spec.submodule_search_locations:
    print(os.path.dirname(os.path.dirname(list(spec.submodule_search_locations)[0])))
PY
)
		if [ -n "$site" ]; then
			export GPUTRAIN_CUBLAS_DIR="$site"
			log "cuBLAS from the pip wheel under $site"
		fi
	fi
fi

{
	echo "kernel=$(uname -r)"
	if command -v nvidia-smi >/dev/null 2>&1; then
		echo "gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)"
		echo "driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)"
		echo "cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -n 1)"
	fi
	echo "cublas_dir=${GPUTRAIN_CUBLAS_DIR:-}"
} >"$out/machine.txt"

log "1/4 GPU tests"
(cd "$kit" && "$work/cuda.test" -test.run "$TESTS" -test.v -test.count 1 -test.timeout "$TEST_TIMEOUT") >"$out/tests.log" 2>&1
tests_rc=$?
status tests "$tests_rc"
grep -E '^(--- |=== RUN|ok|FAIL|PASS)' "$out/tests.log" | grep -v '=== RUN' | tee -a "$out/run.log"

log "2/4 GPU benchmarks"
if [ -n "$BENCH" ]; then
	(cd "$kit" && "$work/cuda.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime 3x -test.timeout "$TEST_TIMEOUT") >"$out/bench.log" 2>&1
	status bench $?
	grep -E '^Benchmark' "$out/bench.log" | tee -a "$out/run.log"
else
	log "skipped: BENCH is empty"
	status bench skipped
fi

log "3/4 gputrain-cuda train --device cuda, $EPOCHS epochs of the book's run"
"$work/gputrain-cuda" train --device cuda --epochs "$EPOCHS" --train-limit "$TRAIN_LIMIT" --data "$kit/mnist" --log-format json --quiet \
	>"$out/train.jsonl" 2>"$out/train.err"
status train $?
cat "$out/train.err" "$out/train.jsonl" | tee -a "$out/run.log"
log "3/4 gputrain-cuda train --device cuda, $EPOCHS epochs of chapter 3's run (cross-entropy, λ 5, scaled init)"
"$work/gputrain-cuda" train --device cuda --epochs "$EPOCHS" --train-limit "$TRAIN_LIMIT" --data "$kit/mnist" --log-format json --quiet \
	--sizes 784,100,10 --eta 0.5 --cost cross-entropy --lambda 5 --weight-init scaled >"$out/train-ch3.jsonl" 2>"$out/train-ch3.err"
status train-ch3 $?
cat "$out/train-ch3.err" "$out/train-ch3.jsonl" | tee -a "$out/run.log"

log "4/4 side by side with PyTorch on the GPU"
if command -v python3 >/dev/null 2>&1 && python3 -c 'import numpy, torch; assert torch.cuda.is_available()' 2>/dev/null; then
	init="$work/init.json"
	# One N(0,1) network (network2.py JSON) for every program to start from.
	if KIT_PEERS="$kit/peers" python3 -c '
import os, sys
sys.path.insert(0, os.environ["KIT_PEERS"])
import numpy as np, peerlib
r = np.random.default_rng(1)
sizes = [784, 30, 10]
peerlib.save_model(sys.argv[1], sizes,
    [r.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])],
    [r.standard_normal(o) for o in sizes[1:]])' "$init"; then
		: >"$out/peers.jsonl"
		common=(--epochs "$EPOCHS" --batch-size 10 --eta 3.0 --data "$kit/mnist" --init "$init")
		for round in $(seq 1 "$ROUNDS"); do
			for prog in gputrain torch-autograd torch-explicit torch-explicit-graph; do
				case $prog in
				gputrain) cmd=("$work/gputrain-cuda" train --device cuda --dtype float32 --log-format json --quiet "${common[@]}") ;;
				*) cmd=(python3 "$kit/peers/torch_cuda.py" --dtype float32 --grad "${prog#torch-}" "${common[@]}") ;;
				esac
				log "round $round: $prog"
				if "${cmd[@]}" >"$work/epochs.jsonl" 2>>"$out/peers.err"; then
					sed "s/^{/{\"program\": \"$prog\", \"round\": $round, /" "$work/epochs.jsonl" >>"$out/peers.jsonl"
				else
					status "peer-$prog-round$round" 1
				fi
			done
		done
		# The same rule? 100 steps in file order from the same network, then
		# the largest relative difference of each program's parameters from
		# gputrain's (report.md shows it).
		same=(--epochs 1 --batch-size 10 --eta 3.0 --data "$kit/mnist" --init "$init" --train-limit 1000 --no-shuffle --eval none --dtype float32)
		"$work/gputrain-cuda" train --device cuda --quiet "${same[@]}" --save "$work/rule-gputrain.json" >/dev/null 2>>"$out/peers.err"
		for grad in autograd explicit explicit-graph; do
			python3 "$kit/peers/torch_cuda.py" --grad "$grad" "${same[@]}" --save "$work/rule-torch-$grad.json" >/dev/null 2>>"$out/peers.err"
		done
		KIT_PEERS="$kit/peers" python3 -c '
import json, sys
import numpy as np
def load(p):
    m = json.load(open(p))
    return [np.array(x) for x in m["weights"] + m["biases"]]
ref = load(sys.argv[1])
for p in sys.argv[2:]:
    try:
        got = load(p)
    except OSError:
        continue
    d = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, ref))
    print(json.dumps({"program": p.rsplit("rule-", 1)[1][:-5], "max_rel_diff": float(d)}))
' "$work/rule-gputrain.json" "$work"/rule-torch-*.json >"$out/rule.jsonl" 2>>"$out/peers.err"
		status peers 0
	else
		status peers 1
	fi
else
	log "skipped: python3 has no torch with CUDA here"
	status peers skipped
fi

log "report"
if command -v python3 >/dev/null 2>&1 && python3 "$kit/report.py" "$out"; then
	:
else
	{
		echo "# gputrain GPU kit report (plain: python3 was not there to tabulate)"
		echo
		echo '```'
		cat "$out/machine.txt" "$out/status.txt" "$out/run.log"
		echo '```'
	} >"$out/report.md"
fi
log "wrote $out/report.md"

if [ "$tests_rc" -ne 0 ]; then
	log "GPU tests FAILED (exit $tests_rc): see $out/tests.log"
	exit 1
fi
exit 0
