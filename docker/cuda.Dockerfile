# syntax=docker/dockerfile:1
#
# gputrain with the CUDA backend. Build it on the CUDA 11.8 toolkit, run it
# on the CUDA runtime (which carries cuBLAS) with MNIST baked in:
#
#   docker build -f docker/cuda.Dockerfile -t gputrain:cuda .
#   docker run --rm --gpus all gputrain:cuda train --device cuda
#
# The host needs the NVIDIA driver (R520 or later for CUDA 11.8) and the
# NVIDIA Container Toolkit for --gpus. The binary cannot start without a
# GPU: gorgonia.org/cu initialises CUDA as the program loads.

ARG CUDA_VERSION=11.8.0

FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu22.04 AS build

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
    CGO_ENABLED=1

WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .

# The CUDA binary links libcuda's stub from the toolkit; the real driver
# library comes from the host at run time.
RUN make cuda CUDA_BIN=/out

# MNIST, fetched and checksum-verified now: the fetch goes through the Go
# module proxy, so it needs Go, and the CUDA binary cannot run here (no
# GPU during a build), so a CPU build of the same CLI fetches it.
RUN go build -o /tmp/gputrain-cpu ./cmd/gputrain \
 && /tmp/gputrain-cpu data --data /data/mnist


FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu22.04

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin gputrain
COPY --from=build /out/gputrain-cuda /usr/local/bin/gputrain
# At ./data/mnist from the working directory: the CLI's default --data.
COPY --from=build /data/mnist /home/gputrain/data/mnist

USER gputrain
WORKDIR /home/gputrain
ENTRYPOINT ["gputrain"]
CMD ["train", "--device", "cuda"]
