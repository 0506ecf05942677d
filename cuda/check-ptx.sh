#!/usr/bin/env bash
# check-ptx.sh: checks the committed cuda/kernels.ptx.
#   1. It is what cuda/kernels.cu compiles to now (nvcc -ptx -arch=compute_60,
#      as go:generate in ptx.go runs it): a stale PTX fails.
#   2. ptxas accepts it for Volta (sm_70), Ampere (sm_80) and Hopper (sm_90),
#      as the driver's JIT will; register use and spills are printed.
# NVCC and PTXAS may name other binaries. nvcc writes its version into the
# PTX header, so the PTX is reproducible with the same CUDA release only
# (the committed one names its release in its first lines).
set -euo pipefail
cd "$(dirname "$0")"

NVCC=${NVCC:-nvcc}
PTXAS=${PTXAS:-ptxas}
for tool in "$NVCC" "$PTXAS"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check-ptx: $tool not found: install the CUDA toolkit (Debian bookworm: enable non-free, apt-get install nvidia-cuda-toolkit)" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "check-ptx: using $(command -v "$NVCC"): $("$NVCC" --version | grep -i 'release' || echo 'unknown release')"
"$NVCC" -ptx -arch=compute_60 -o "$tmp/kernels.ptx" kernels.cu
if ! diff -u kernels.ptx "$tmp/kernels.ptx" >"$tmp/ptx.diff"; then
	echo "check-ptx: FAIL: cuda/kernels.ptx is not what cuda/kernels.cu compiles to:" >&2
	echo "check-ptx:   committed: $(sed -n 's|^// Cuda compilation tools, ||p' kernels.ptx)" >&2
	echo "check-ptx:   this nvcc: $(sed -n 's|^// Cuda compilation tools, ||p' "$tmp/kernels.ptx")" >&2
	head -n 40 "$tmp/ptx.diff" >&2
	echo "check-ptx: regenerate it with 'make ptx' (go generate ./cuda/) and commit it" >&2
	exit 1
fi
entries=$(grep -c '^\.visible \.entry' kernels.ptx)
echo "check-ptx: ok: cuda/kernels.ptx ($entries kernels, $(sed -n 's/^\.target //p' kernels.ptx)) is what nvcc -ptx -arch=compute_60 makes of cuda/kernels.cu"

for sm in sm_70 sm_80 sm_90; do
	if ! "$PTXAS" -v -arch="$sm" -o "$tmp/kernels.$sm.cubin" kernels.ptx >"$tmp/ptxas.$sm.log" 2>&1; then
		echo "check-ptx: FAIL: ptxas -arch=$sm rejects cuda/kernels.ptx:" >&2
		cat "$tmp/ptxas.$sm.log" >&2
		exit 1
	fi
	# Registers per kernel, and spills, which would mean local-memory traffic.
	summary=$(awk '
		/Compiling entry function/ { name = $7; gsub(/\047/, "", name); spill = 0 }
		/bytes spill stores/ { spill = $5 }
		/Used [0-9]+ registers/ { printf "%s%s %d regs%s", sep, name, $5, (spill > 0 ? " (spills " spill " bytes)" : ""); sep = ", " }
	' "$tmp/ptxas.$sm.log")
	echo "check-ptx: ok: ptxas -arch=$sm accepts it: $summary"
done
