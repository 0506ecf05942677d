#!/usr/bin/env bash
# arm64 without arm64 hardware: cpu/'s tests and the book's first epoch,
# cross-compiled for linux/arm64 and run under qemu-user (the NEON kernels
# selected), the epoch's count held to amd64's; and the builds for
# darwin/arm64, windows/amd64 and linux/ppc64le and 386 (CPUs with neither
# kernel set: cpu/simd_other.go's plain Go), so that a platform break is
# seen.
# qemu's speed means nothing here; its answers do. `make arm64-check`.
set -euo pipefail
cd "$(dirname "$0")/.."

qemu="qemu-aarch64-static"
if ! command -v "$qemu" >/dev/null; then
  echo "arm64: installing qemu-user-static (Debian's qemu-aarch64-static)"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && $sudo apt-get install -y -qq qemu-user-static >/dev/null
fi

data=${GPUTRAIN_DATA:-$PWD/data/mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0

for target in darwin/arm64 windows/amd64 linux/arm64 linux/ppc64le linux/386; do
  echo "arm64: go build ./... for $target"
  GOOS=${target%/*} GOARCH=${target#*/} go build ./...
done

echo "arm64: cpu/'s tests under $qemu"
GOARCH=arm64 go test -c -o "$tmp/cpu.test" ./cpu/
(cd cpu && GPUTRAIN_DATA=$data "$qemu" "$tmp/cpu.test" -test.count=1)

# The book's run (seed 1, one epoch, float32): a shorter run does not tell
# the kernels apart (5,000 images give 7545 with any of them).
echo "arm64: the book's first epoch on amd64 and under $qemu"
go build -o "$tmp/gputrain-amd64" ./cmd/gputrain
GOARCH=arm64 go build -o "$tmp/gputrain-arm64" ./cmd/gputrain
"$qemu" "$tmp/gputrain-arm64" version | grep 'backend cpu: NEON kernels' >/dev/null ||
  { echo "arm64: gputrain version does not name the NEON kernels"; exit 1; }
epoch() { "$@" train --data "$data" --epochs 1 --quiet 2>/dev/null | grep '^Epoch 0:' | cut -d' ' -f3; }
got=$(epoch "$qemu" "$tmp/gputrain-arm64")
if ! "$tmp/gputrain-amd64" version | grep -E 'backend cpu: .*AVX2\+FMA' >/dev/null; then
  echo "arm64: Epoch 0: $got / 10000 on arm64; not compared: this machine has no AVX2+FMA"
  exit 0
fi
want=$(epoch "$tmp/gputrain-amd64")
echo "arm64: Epoch 0: $got / 10000 on arm64, $want on amd64"
if [ -z "$want" ] || [ "$got" != "$want" ]; then
  echo "arm64: the counts differ"
  exit 1
fi
