# syntax=docker/dockerfile:1
#
# gputrain with the CUDA backend. Build it on a CUDA 12 toolkit, run it on
# the CUDA runtime image (which carries cuBLAS) with MNIST baked in:
#
#   docker build -f docker/cuda.Dockerfile -t gputrain:cuda .
#   docker run --rm --gpus all gputrain:cuda train --device cuda
#
# The host needs the NVIDIA driver (R525 or later: CUDA 12's minor-version
# compatibility) and the NVIDIA Container Toolkit for --gpus. Without a GPU
# the binary says so in one line and exits 1.
#
# Why CUDA 12.9.1: the newest 12.x. gorgonia.org/cu v0.9.6 binds the
# texture-reference functions, deprecated throughout CUDA 12 and removed in
# 13.0, so a 13 toolkit cannot build it; the whole gpu-tagged build was
# checked to compile and link against CUDA 12.4's headers (Debian trixie's
# nvidia-cuda-dev) as well as 11.8's, and nothing it uses changed in later
# 12.x releases. cuBLAS is loaded at run time, so the binary also runs with
# a CUDA 11.8 or 13 cuBLAS outside this image.
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
# SHA-256 that go.dev/dl publishes for it.
ARG GO_VERSION=1.26.8
ARG GO_SHA256=d0f743b33e8d8945e6b1f432edd15785c70507121d6e2a723b21285eddf8b57b

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl make \
 && rm -rf /var/lib/apt/lists/*
RUN curl -fsSLo /tmp/go.tgz "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" \
 && echo "${GO_SHA256}  /tmp/go.tgz" | sha256sum -c - \
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

# MNIST, fetched and checksum-verified now: the fetch goes through the Go
# module proxy, so it needs Go, and the CUDA binary cannot run here (no
# GPU during a build), so a CPU build of the same CLI fetches it.
RUN go build -buildvcs=false -o /tmp/gputrain-cpu ./cmd/gputrain \
 && /tmp/gputrain-cpu data --data /data/mnist


FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gputrain
COPY --from=build /out/gputrain-cuda /usr/local/bin/gputrain
# At ./data/mnist from the working directory: the CLI's default --data.
COPY --from=build /data/mnist /home/gputrain/data/mnist

USER gputrain
WORKDIR /home/gputrain
ENTRYPOINT ["gputrain"]
CMD ["train", "--device", "cuda"]
