# syntax=docker/dockerfile:1
#
# gputrain with the CUDA backend. Build it on a CUDA 12 toolkit, run it on
# the CUDA runtime image (which carries cuBLAS) with MNIST baked in:
#
#   docker build -f docker/cuda.Dockerfile -t gputrain:cuda .
#   docker run --rm --gpus all --entrypoint gputrain-cuda gputrain:cuda doctor   # first: can it run here?
#   docker run --rm --gpus all gputrain:cuda --device cuda
#
# Both builds are installed: gputrain (the CPU build) hands --device cuda to
# gputrain-cuda beside it, so `gputrain --device cuda` works as written.
#
# The host needs the NVIDIA Container Toolkit for --gpus, and a driver the
# image accepts: CUDA 12.9 images set NVIDIA_REQUIRE_CUDA to "cuda>=12.9"
# or, for datacenter GPUs, a driver of branch 535, 550, 560, 565 or 570
# (CUDA 12's minor-version compatibility). The container toolkit refuses
# any other driver (R525, R545, R555 say) before the program starts, unless
# run with -e NVIDIA_DISABLE_REQUIRE=1. Past that check, the binary itself
# needs only a CUDA 11.8 driver API (R520+), which its preflight checks.
#
# Why CUDA 12.9.1 and not a CUDA 13 base: gorgonia.org/cu v0.9.6 does not
# compile against CUDA 13's cuda.h. Its calls use 12.x signatures that 13.0
# replaced under the same names: cuCtxCreate (now cuCtxCreate_v4, with a
# CUctxCreateParams argument; ctx.go, cucontext.go), cuMemAdvise (a
# CUmemLocation for the CUdevice) and cuMemPrefetchAsync (a location and
# flags; addressing.go). The texture-reference functions it also binds are
# only deprecated in 13.x, still declared and still exported by the driver,
# so they are not the obstacle. The whole gpu-tagged build was checked to
# compile and link against CUDA 12.4's headers (Debian trixie's
# nvidia-cuda-dev) as well as 11.8's, and nothing it uses changed in later
# 12.x releases. The binary runs on a CUDA 13 driver (R580) all the same
# (the driver API keeps old entry points), and cuBLAS is loaded at run time,
# so it uses a CUDA 13 cuBLAS (the toolkit's or the nvidia-cublas wheel's)
# outside this image.
#
# arm64 (Grace Hopper, GH200): NVIDIA's images are multi-arch, so the same
# file builds for linux/arm64 (Go's tarball is picked by TARGETARCH):
#   docker buildx build --platform linux/arm64 -f docker/cuda.Dockerfile -t gputrain:cuda-arm64 .
#
# NVIDIA deletes the tags of end-of-life toolkits from Docker Hub some
# months after their support ends. When `docker build` fails on a FROM line,
# pick a current 12.x tag (https://hub.docker.com/r/nvidia/cuda/tags) with
# both -devel-ubuntu24.04 and -runtime-ubuntu24.04 and pass it:
#   docker build --build-arg CUDA_VERSION=12.x.y -f docker/cuda.Dockerfile .

ARG CUDA_VERSION=12.9.1
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build

# The Go release the project is developed with, checked against the
# SHA-256 that go.dev/dl publishes for it, per architecture (set by buildx
# from --platform).
ARG TARGETARCH=amd64
ARG GO_VERSION=1.26.8
ARG GO_SHA256_amd64=d0f743b33e8d8945e6b1f432edd15785c70507121d6e2a723b21285eddf8b57b
# Fill in from https://go.dev/dl/ before an arm64 build: the build stops on
# a mismatch rather than run an unchecked toolchain.
ARG GO_SHA256_arm64=unset

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# gcc and libc6-dev for cgo, installed by name rather than trusted to come
# with the devel image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl make gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN sum_var="GO_SHA256_${TARGETARCH}" \
 && curl -fsSLo /tmp/go.tgz "https://go.dev/dl/go${GO_VERSION}.linux-${TARGETARCH}.tar.gz" \
 && echo "${!sum_var}  /tmp/go.tgz" | sha256sum -c - \
 && tar -C /usr/local -xzf /tmp/go.tgz \
 && rm /tmp/go.tgz
ENV PATH=/usr/local/go/bin:$PATH \
    GOTOOLCHAIN=local \
    GOFLAGS=-buildvcs=false \
    CGO_ENABLED=1

WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

# The CUDA binary links libcuda's stub from the toolkit; the real driver
# library comes from the host at run time, cuBLAS from the runtime image.
# (No .git in the context: -buildvcs=false, set above, keeps go build from
# looking for it.)
RUN make cuda CUDA_BIN=/out

# The CPU build too: it is the image's gputrain (the CUDA build cannot
# start without a GPU, so `gputrain doctor` and CPU training work anywhere),
# and it fetches MNIST now, checksum-verified (the fetch goes through the Go
# module proxy, so it needs Go; no GPU during a build).
RUN CGO_ENABLED=0 go build -buildvcs=false -o /out/gputrain ./cmd/gputrain \
 && /out/gputrain data --data /data/mnist


FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gputrain
# Both builds, side by side: gputrain runs gputrain-cuda for --device cuda.
COPY --from=build /out/gputrain /out/gputrain-cuda /usr/local/bin/
# At ./data/mnist from the working directory: the CLI's default --data.
COPY --from=build /data/mnist /home/gputrain/data/mnist

USER gputrain
WORKDIR /home/gputrain
ENTRYPOINT ["gputrain"]
CMD ["--device", "cuda"]
