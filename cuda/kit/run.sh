#!/usr/bin/env bash
# shellcheck disable=SC2317 # the parts are called by name
# run.sh OUTDIR: gputrain's first run on an NVIDIA GPU, prepared by
# `make gpu-kit`. Needs only bash, coreutils, the NVIDIA driver and some
# cuBLAS (11.8 or later: the system's, or the pip wheel PyTorch brings); no
# Go, no network. BUDGET seconds (default 480) cover everything, from
# unpacking to the last report:
#   0. the preflight, within 10 s: gputrain-cuda doctor (driver, devices,
#      cuBLAS, the PTX loaded by the driver, 20 steps against the CPU), the
#      machine's own ptxas on kernels.ptx (if a ptxas is on PATH) and
#      nvidia-smi (clocks, driver, memory). If the driver, a device, cuBLAS
#      or the PTX fails, report.md says which and what to do, and the run
#      stops (exit 1).
#   then each part under its own limit (and what is left of the budget):
#   1. tests: the GPU tests of ./cuda (cuda.test -test.run GPU -test.v),
#   2. bench: the book's epoch, [784,1024,1024,10] at batch 256 with its
#      matmul GFLOP/s, cuBLAS SGEMM at the same shapes on random data, one
#      graph replay timed by CUDA events and by the wall clock,
#   3. train, train-ch3: gputrain-cuda train --device cuda for EPOCHS epochs
#      of the book's run, then of chapter 3's headline run,
#   4. peers: where python3 has torch with CUDA, PyTorch on the GPU at the
#      book's settings from the same initial network, taking turns with
#      gputrain, ROUNDS rounds,
#   5. sweep: issue 23's 256 networks,
#   6. ch6: issue 24's chapter 6 networks (CH6_NETS), each network3's report
#      (the test accuracy at the epoch of best validation accuracy); skipped
#      while gputrain-cuda has no --layers,
#   7. clocks-after: nvidia-smi's clocks again.
# OUTDIR/report.md and report.json (python3 tabulates; a plain report.md
# without it) are rewritten after every part, so a run cut short keeps
# what it measured; a part that fails or is killed is named there, and the
# next part still runs. Exit status: 1 if the preflight stopped the run or
# a GPU test failed or did not finish, 2 for bad usage, else 0.
set -uo pipefail

# --part NAME OUTDIR: one part, run by the loop below under timeout.
if [ "${1:-}" = --part ]; then
	part=$2 out=$3
else
	part=
	if [ $# -ne 1 ]; then
		echo "usage: $0 OUTDIR" >&2
		exit 2
	fi
	mkdir -p "$1" || exit 2
	out=$(cd "$1" && pwd)
fi
kit=$(cd "$(dirname "$0")" && pwd)

: "${BUDGET:=480}"     # seconds for the whole run
: "${EPOCHS:=3}"       # epochs of each training run
: "${TRAIN_LIMIT:=0}"  # train on the first N training images (0: all), in part 3
: "${TESTS=GPU}"       # the tests of part 1 (-test.run)
: "${BENCH=Epoch|SGEMM|GraphReplay}" # the benchmarks of part 2 (-test.bench); empty: skip them
# The last three shrink a run where speed means nothing: cuda/standin/check.sh
# runs the kit on the CPU stand-in for the driver that way.
: "${ROUNDS:=2}"       # rounds of the side-by-side comparison
# Each part's own limit, in seconds.
: "${LIMIT_TESTS:=150}" "${LIMIT_BENCH:=150}" "${LIMIT_TRAIN:=60}" "${LIMIT_PEERS:=150}"
# doctor's limit within the preflight: on a GPU it answers in a second or
# two; the CPU stand-in on a busy machine may need more.
: "${LIMIT_DOCTOR:=6}"
: "${LIMIT_SWEEP:=120}"  # issue 23's part: 256 networks as a sweep and through torch.func
: "${SWEEP_LIMIT:=10000}" # training images of each of them
: "${SWEEP_SEEDS:=64}"    # seeds of the sweep: 4 × SWEEP_SEEDS networks (256)
# Issue 24's part: the rows of its accuracy table the CPU's time does not
# allow (make reproduce-ch6 runs shallow and relu there), at the book's
# epochs unless CH6_EPOCHS says; cut short by LIMIT_CH6 and the budget.
: "${LIMIT_CH6:=120}"
: "${CH6_NETS:=two-conv expanded dropout ensemble}"
: "${CH6_EPOCHS:=}"
: "${CH6_TRAIN_LIMIT:=0}"
export BUDGET EPOCHS TRAIN_LIMIT TESTS BENCH ROUNDS CH6_NETS CH6_EPOCHS CH6_TRAIN_LIMIT

log() { echo "== gpu-kit: $*" | tee -a "$out/run.log"; }

# The parts. Each writes its own files in $out; $KIT_WORK holds the
# unpacked binaries. They are called by name ("part_$part", below), which
# the linter cannot follow (hence SC2317 off, at the top).
part_tests() {
	cd "$kit" && "$KIT_WORK/cuda.test" -test.run "$TESTS" -test.v -test.count 1 -test.timeout 1h >"$out/tests.log" 2>&1
}
part_bench() {
	cd "$kit" && "$KIT_WORK/cuda.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime 3x -test.timeout 1h >"$out/bench.log" 2>&1
}
part_train() {
	"$KIT_WORK/gputrain-cuda" train --device cuda --epochs "$EPOCHS" --train-limit "$TRAIN_LIMIT" --data "$kit/mnist" --log-format json --quiet \
		>"$out/train.jsonl" 2>"$out/train.err"
}
part_train-ch3() {
	"$KIT_WORK/gputrain-cuda" train --device cuda --epochs "$EPOCHS" --train-limit "$TRAIN_LIMIT" --data "$kit/mnist" --log-format json --quiet \
		--sizes 784,100,10 --eta 0.5 --cost cross-entropy --lambda 5 --weight-init scaled >"$out/train-ch3.jsonl" 2>"$out/train-ch3.err"
}
part_sweep() {
	# Issue 23's GPU figures: 256 book networks (η 0.5, 1, 2, 3 × seeds
	# 1–64) as one gputrain sweep (one shape: one cuda.Group, a batched
	# program of strided-batched products and kernels over the 256, one
	# CUDA graph per 20 steps), one network's epoch alone, and the same 256
	# through PyTorch's torch.func ensemble, each for one epoch of
	# SWEEP_LIMIT images without evaluation.
	local common=(--epochs 1 --train-limit "$SWEEP_LIMIT" --data "$kit/mnist") t0 rc=0 n=$((4 * SWEEP_SEEDS))
	t0=$EPOCHREALTIME
	"$KIT_WORK/gputrain-cuda" sweep --device cuda --eta 0.5,1,2,3 --seed "1..$SWEEP_SEEDS" --eval none --quiet "${common[@]}" \
		>"$out/sweep.jsonl" 2>"$out/sweep.err" || rc=1
	awk -v s="$t0" -v e="$EPOCHREALTIME" -v n="$n" 'BEGIN { printf "{\"networks\": %d, \"wall_seconds\": %.3f}\n", n, e - s }' >"$out/sweep-summary.jsonl"
	"$KIT_WORK/gputrain-cuda" train --device cuda --eval none --log-format json --quiet "${common[@]}" >"$out/sweep-one.jsonl" 2>>"$out/sweep.err" || rc=1
	if timeout 20 python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
		python3 "$kit/peers/torch_ensemble.py" --networks "$n" --device cuda "${common[@]}" >"$out/torch-ensemble.jsonl" 2>>"$out/sweep.err" || rc=1
	fi
	return "$rc"
}
part_ch6() {
	# The commands of issue 24 (cmd/gputrain-bench/ch6.go's ch6Nets, which a
	# test holds these to); an ensemble is its members' majority vote.
	local relu=conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:100:relu,softmax:10
	local last=conv:20x5x5:relu,pool:2,conv:40x5x5:relu,pool:2,fc:1000:relu:dropout=0.5,fc:1000:relu:dropout=0.5,softmax:10:dropout=0.5
	local net flags epochs members m rc=0 models
	for net in $CH6_NETS; do
		members=1 epochs=60
		case $net in
		shallow) flags=(--layers "conv:20x5x5,pool:2,fc:100,softmax:10" --eta 0.1) ;;
		two-conv) flags=(--layers "conv:20x5x5,pool:2,conv:40x5x5,pool:2,fc:100,softmax:10" --eta 0.1) ;;
		relu) flags=(--layers "$relu" --eta 0.03 --lambda 0.1) ;;
		expanded) flags=(--layers "$relu" --eta 0.03 --lambda 0.1 --train-set expanded) ;;
		dropout) flags=(--layers "$last" --eta 0.03 --train-set expanded) epochs=40 ;;
		ensemble) flags=(--layers "$last" --eta 0.03 --train-set expanded) epochs=40 members=5 ;;
		*) echo "CH6_NETS: unknown network $net" >>"$out/ch6.err"; rc=1; continue ;;
		esac
		models=()
		for m in $(seq 1 "$members"); do
			"$KIT_WORK/gputrain-cuda" train --device cuda --log-format json --quiet --data "$kit/mnist" --epochs "${CH6_EPOCHS:-$epochs}" \
				--train-limit "$CH6_TRAIN_LIMIT" --seed "$m" --save "$KIT_WORK/ch6-$net-$m.json" "${flags[@]}" \
				>"$out/ch6-$net-$m.jsonl" 2>"$out/ch6-$net-$m.err" || rc=1
			models+=("$KIT_WORK/ch6-$net-$m.json")
		done
		if [ "$members" -gt 1 ]; then
			"$KIT_WORK/gputrain-cuda" eval --device cuda --json --data "$kit/mnist" --model "$(IFS=,; echo "${models[*]}")" \
				>"$out/ch6-$net-vote.json" 2>>"$out/ch6.err" || rc=1
		fi
	done
	return "$rc"
}
part_clocks-after() {
	nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw --format=csv >"$out/clocks-after.csv"
}
part_peers() {
	local init="$KIT_WORK/init.json"
	# One N(0,1) network (network2.py JSON) for every program to start from.
	KIT_PEERS="$kit/peers" python3 -c '
import os, sys
sys.path.insert(0, os.environ["KIT_PEERS"])
import numpy as np, peerlib
r = np.random.default_rng(1)
sizes = [784, 30, 10]
peerlib.save_model(sys.argv[1], sizes,
    [r.standard_normal((o, i)) for i, o in zip(sizes[:-1], sizes[1:])],
    [r.standard_normal(o) for o in sizes[1:]])' "$init" || return 1
	: >"$out/peers.jsonl"
	local common=(--epochs "$EPOCHS" --batch-size 10 --eta 3.0 --data "$kit/mnist" --init "$init") rc=0 round prog cmd
	for round in $(seq 1 "$ROUNDS"); do
		for prog in gputrain torch-autograd torch-explicit torch-explicit-graph; do
			case $prog in
			gputrain) cmd=("$KIT_WORK/gputrain-cuda" train --device cuda --dtype float32 --log-format json --quiet "${common[@]}") ;;
			*) cmd=(python3 "$kit/peers/torch_cuda.py" --dtype float32 --grad "${prog#torch-}" "${common[@]}") ;;
			esac
			echo "round $round: $prog: ${cmd[*]}" >>"$out/peers.err"
			if "${cmd[@]}" >"$KIT_WORK/epochs.jsonl" 2>>"$out/peers.err"; then
				sed "s/^{/{\"program\": \"$prog\", \"round\": $round, /" "$KIT_WORK/epochs.jsonl" >>"$out/peers.jsonl"
			else
				rc=1
			fi
		done
	done
	# The same rule? 100 steps in file order from the same network, then
	# the largest relative difference of each program's parameters from
	# gputrain's (report.md shows it).
	local same=(--epochs 1 --batch-size 10 --eta 3.0 --data "$kit/mnist" --init "$init" --train-limit 1000 --no-shuffle --eval none --dtype float32) grad
	"$KIT_WORK/gputrain-cuda" train --device cuda --quiet "${same[@]}" --save "$KIT_WORK/rule-gputrain.json" >/dev/null 2>>"$out/peers.err"
	for grad in autograd explicit explicit-graph; do
		python3 "$kit/peers/torch_cuda.py" --grad "$grad" "${same[@]}" --save "$KIT_WORK/rule-torch-$grad.json" >/dev/null 2>>"$out/peers.err"
	done
	python3 -c '
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
' "$KIT_WORK/rule-gputrain.json" "$KIT_WORK"/rule-torch-*.json >"$out/rule.jsonl" 2>>"$out/peers.err"
	return "$rc"
}

if [ -n "$part" ]; then
	"part_$part"
	exit $?
fi

# report rewrites report.md and report.json from what $out holds so far.
report() {
	if command -v python3 >/dev/null 2>&1 && python3 "$kit/report.py" "$out" 2>>"$out/run.log"; then
		return
	fi
	{
		echo "# gputrain GPU kit report (plain: python3 was not there to tabulate)"
		echo
		echo '```'
		cat "$out/machine.txt" "$out/parts.tsv" "$out/doctor.txt" "$out/run.log" 2>/dev/null
		echo '```'
	} >"$out/report.md"
}

# record NAME STATUS SECONDS LIMIT COMMAND: one row of parts.tsv, which
# report.py turns into the table of parts.
record() {
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$out/parts.tsv"
	log "$1: $2 (${3} s of ${4} s)"
}

reserve=5 # seconds kept back for the last report and timeout's grace
deadline=$BUDGET

# run_part NAME LIMIT COMMAND-TEXT: part_NAME under the smaller of its own
# limit and what the budget leaves, then the report.
run_part() {
	local name=$1 own=$2 text=$3 left lim capped=0 t0 rc status
	left=$((deadline - SECONDS - reserve))
	if [ "$left" -le 0 ]; then
		record "$name" "not run: the budget (BUDGET=$BUDGET s) was spent" 0 "$own" "$text"
		report
		return
	fi
	lim=$own
	if [ "$left" -lt "$own" ]; then
		lim=$left capped=1
	fi
	log "$name (limit $lim s): $text"
	t0=$SECONDS
	timeout -k 2 "$lim" bash "$0" --part "$name" "$out"
	rc=$?
	case $rc in
	0) status=ok ;;
	124 | 137)
		if [ "$capped" = 1 ]; then
			status="killed by the budget (BUDGET=$BUDGET s) after $lim s"
		else
			status="killed at its own limit of $lim s"
		fi
		;;
	*) status="failed (exit $rc)" ;;
	esac
	record "$name" "$status" "$((SECONDS - t0))" "$lim" "$text"
	report
}

: >"$out/run.log"
: >"$out/parts.tsv"
rm -f "$out/report.md" "$out/report.json"
KIT_WORK=$(mktemp -d)
export KIT_WORK
trap 'rm -rf "$KIT_WORK"' EXIT

for f in gputrain-cuda cuda.test; do
	if ! gzip -dc "$kit/$f.gz" >"$KIT_WORK/$f"; then
		log "cannot unpack $kit/$f.gz"
		exit 2
	fi
	chmod +x "$KIT_WORK/$f"
done
export GPUTRAIN_DATA="$kit/mnist"

# cuBLAS: the binary searches GPUTRAIN_CUBLAS_DIR, LD_LIBRARY_PATH, the
# active virtual environment's or conda's wheels, the ld.so cache and the
# toolkit. Where none of the first two names one, ask the python3 on PATH
# where its wheel is (nvidia/cu13/lib for CUDA 13's nvidia-cublas,
# nvidia/cublas/lib for nvidia-cublas-cu12, any nvidia/cu*/lib): every
# sys.path entry.
ld_cublas=
IFS=: read -ra ld_dirs <<<"${LD_LIBRARY_PATH:-}"
for d in "${ld_dirs[@]}"; do
	if [ -n "$d" ] && compgen -G "$d/libcublas.so*" >/dev/null; then
		ld_cublas=$d
	fi
done
if [ -z "${GPUTRAIN_CUBLAS:-}${GPUTRAIN_CUBLAS_DIR:-}$ld_cublas" ] && command -v python3 >/dev/null 2>&1; then
	site=$(timeout 5 python3 - <<'PY' 2>/dev/null
import glob, os, sys
for p in sys.path:
    if p and glob.glob(os.path.join(p, "nvidia", "cu*", "lib", "libcublas.so*")):
        print(p)
        break
PY
)
	if [ -n "$site" ]; then
		export GPUTRAIN_CUBLAS_DIR="$site"
		log "cuBLAS: the pip wheel under $site (python3's sys.path)"
	fi
fi

# The preflight, within 10 s.
log "preflight: gputrain-cuda doctor, nvidia-smi, ptxas"
pre0=$SECONDS
{
	echo "kernel=$(uname -r)"
	echo "cublas_dir=${GPUTRAIN_CUBLAS_DIR:-}"
	echo "budget=$BUDGET"
} >"$out/machine.txt"
if command -v nvidia-smi >/dev/null 2>&1; then
	(
		timeout 3 nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total,clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw \
			--format=csv >"$out/clocks-before.csv" 2>&1
		timeout 2 nvidia-smi >"$out/nvidia-smi.txt" 2>&1
	) &
	smi=$!
else
	echo "nvidia-smi: not on PATH" >"$out/nvidia-smi.txt"
	smi=
fi
timeout -k 1 "$LIMIT_DOCTOR" "$KIT_WORK/gputrain-cuda" doctor >"$out/doctor.txt" 2>"$out/doctor.err"
doctor_rc=$?
[ -n "$smi" ] && wait "$smi"
# The machine's own ptxas on the kernels, for the device's architecture.
cap=$(sed -n '2s/.*, \([0-9]*\)\.\([0-9]*\), [0-9]* MiB.*/\1\2/p' "$out/clocks-before.csv" 2>/dev/null)
[ -z "$cap" ] && cap=$(sed -n 's/^ok device 0: .*compute capability \([0-9]*\)\.\([0-9]*\),.*/\1\2/p' "$out/doctor.txt")
if command -v ptxas >/dev/null 2>&1 && [ -n "$cap" ]; then
	echo "ptxas -arch=sm_$cap kernels.ptx ($(ptxas --version 2>&1 | tail -n 1))" >"$out/ptxas.log"
	timeout 3 ptxas -arch="sm_$cap" -v "$kit/kernels.ptx" -o "$KIT_WORK/kernels.cubin" >>"$out/ptxas.log" 2>&1
	echo "exit status $?" >>"$out/ptxas.log"
else
	echo "not run: no ptxas on PATH, or no compute capability known" >"$out/ptxas.log"
fi
{
	echo "doctor=$doctor_rc"
	echo "compute_cap=$cap"
} >>"$out/machine.txt"
stop=$(grep -E '^FAIL: (driver|devices|device [0-9]+|context|cuBLAS|PTX):' "$out/doctor.txt")
if [ "$doctor_rc" = 124 ] || [ "$doctor_rc" = 137 ]; then
	stop="FAIL: doctor: gputrain-cuda doctor did not answer within $LIMIT_DOCTOR s; run it by hand to see where it hangs (the driver or the GPU's state)"
elif [ "$doctor_rc" != 0 ] && ! grep -q . "$out/doctor.txt"; then
	stop="FAIL: doctor: gputrain-cuda doctor exited $doctor_rc without a check: $(head -c 500 "$out/doctor.err")"
fi
record preflight "$([ -n "$stop" ] && echo "stopped the run" || echo ok)" "$((SECONDS - pre0))" "$((LIMIT_DOCTOR + 4))" "gputrain-cuda doctor; ptxas -arch=sm_$cap kernels.ptx; nvidia-smi"
if [ -n "$stop" ]; then
	echo "$stop" >"$out/stop.txt"
	log "the preflight failed: $stop"
	report
	exit 1
fi
report

run_part tests "$LIMIT_TESTS" "cuda.test -test.run '$TESTS' -test.v -test.count 1"
if [ -n "$BENCH" ]; then
	run_part bench "$LIMIT_BENCH" "cuda.test -test.run '^\$' -test.bench '$BENCH' -test.benchtime 3x"
else
	record bench "skipped: BENCH is empty" 0 0 ""
fi
run_part train "$LIMIT_TRAIN" "gputrain-cuda train --device cuda --epochs $EPOCHS --train-limit $TRAIN_LIMIT --log-format json"
run_part train-ch3 "$LIMIT_TRAIN" "gputrain-cuda train --device cuda --epochs $EPOCHS --train-limit $TRAIN_LIMIT --sizes 784,100,10 --eta 0.5 --cost cross-entropy --lambda 5 --weight-init scaled --log-format json"
if command -v python3 >/dev/null 2>&1 && timeout 20 python3 -c 'import numpy, torch; assert torch.cuda.is_available()' 2>/dev/null; then
	run_part peers "$LIMIT_PEERS" "python3 peers/torch_cuda.py --grad autograd|explicit|explicit-graph and gputrain-cuda train, $ROUNDS rounds of $EPOCHS epochs, [784,30,10] batch 10 float32"
else
	record peers "skipped: python3 has no torch with CUDA here" 0 0 ""
fi
run_part sweep "$LIMIT_SWEEP" "gputrain-cuda sweep --device cuda --eta 0.5,1,2,3 --seed 1..$SWEEP_SEEDS --epochs 1 --train-limit $SWEEP_LIMIT --eval none; gputrain-cuda train (one network); python3 peers/torch_ensemble.py --networks $((4 * SWEEP_SEEDS))"
# Asked only while the budget lasts (run_part says when it is spent).
if [ $((deadline - SECONDS - reserve)) -gt 0 ] && ! "$KIT_WORK/gputrain-cuda" train -h 2>&1 | grep -q -- '-layers'; then
	record ch6 "skipped: gputrain --layers not available (chapter 6's layers, issue 24, are not in this build)" 0 0 ""
else
	run_part ch6 "$LIMIT_CH6" "gputrain-cuda train --device cuda, issue 24's commands for $CH6_NETS (epochs ${CH6_EPOCHS:-of the book}, train limit $CH6_TRAIN_LIMIT)"
fi
if [ -n "$smi" ]; then
	run_part clocks-after 5 "nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,temperature.gpu,power.draw --format=csv"
fi
log "wrote $out/report.md ($SECONDS s of BUDGET=$BUDGET s)"

if ! grep -q $'^tests\tok\t' "$out/parts.tsv"; then
	log "GPU tests FAILED or did not finish: see $out/tests.log"
	exit 1
fi
exit 0
