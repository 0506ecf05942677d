#!/usr/bin/env bash
# ci.sh: the CUDA checks that need no GPU, run from the repository root by
# .ci/run. Installs the CUDA toolkit when nvcc is missing (as root, on
# Debian: enabling the non-free component), then
#   1. go vet -tags gpu ./... and the gpu-tagged tests compile (make cuda-vet),
#   2. the committed PTX matches kernels.cu and ptxas takes it (make ptx-check),
#   3. go test ./cuda/: kernels emulated on the CPU against the CPU backend,
#      the cuBLAS call plan against a column-major reference, the scheduler,
#   4. shellcheck of the GPU kit's run.sh and the project's other scripts.
# Each step prints its duration.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
	local name=$1
	shift
	local start=$SECONDS
	echo "== cuda ci: $name"
	"$@"
	echo "== cuda ci: $name: ok ($((SECONDS - start)) s)"
}

install_toolkit() {
	if [ "$(id -u)" != 0 ]; then
		echo "cuda ci: nvcc is missing and this is not root: install nvidia-cuda-toolkit first" >&2
		return 1
	fi
	# nvidia-cuda-toolkit is in Debian's non-free component.
	local add='/ contrib( |$)/!s/$/ contrib/; / non-free( |$)/!s/$/ non-free/; / non-free-firmware( |$)/!s/$/ non-free-firmware/'
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -i -E "/^Components:/{$add}" /etc/apt/sources.list.d/debian.sources
	fi
	if [ -f /etc/apt/sources.list ]; then
		sed -i -E "/^deb /{$add}" /etc/apt/sources.list
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit g++ shellcheck
}

# CUDA_CI_INSTALL=1 runs the install step even where nvcc exists.
if [ "${CUDA_CI_INSTALL:-}" = 1 ] || ! command -v nvcc >/dev/null 2>&1 || ! command -v shellcheck >/dev/null 2>&1; then
	step "install nvidia-cuda-toolkit" install_toolkit
fi
nvcc --version | grep -i release

step "cuda-vet" make --no-print-directory cuda-vet
step "ptx-check" make --no-print-directory ptx-check
step "go test ./cuda/" go test -count=1 ./cuda/
step "shellcheck the GPU kit's run.sh and the other scripts" shellcheck cuda/kit/run.sh cuda/ci.sh cuda/check-ptx.sh cuda/standin/check.sh .ci/run
