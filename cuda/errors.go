package cuda

import "errors"

// ErrNoCUDA is Open's error in a binary built without CUDA support; its
// text says how to get one.
var ErrNoCUDA = errors.New(`gputrain was built without CUDA support: build it with "make cuda" (needs the CUDA toolkit, e.g. Debian's nvidia-cuda-toolkit from bookworm's non-free component) or use the container docker/cuda.Dockerfile; the CPU build runs a gputrain-cuda it finds beside itself or on PATH in its place`)
