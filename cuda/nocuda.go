//go:build !gpu

// Package cuda runs compiled graph programs on NVIDIA GPUs through
// gorgonia.org/cu and cuBLAS. This build has no CUDA support: build with
// -tags gpu (make cuda) for it.
package cuda

import (
	"errors"

	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Available reports whether this binary was built with CUDA support.
const Available = false

// ErrNoCUDA is the error of Open in a build without CUDA support.
var ErrNoCUDA = errors.New(`gputrain was built without CUDA support: build it with "make cuda" (needs the CUDA toolkit, e.g. Debian's nvidia-cuda-toolkit) or use the container docker/cuda.Dockerfile`)

// Open fails with ErrNoCUDA in this build.
func Open(train.Config, *mnist.Set) (train.Backend, error) { return nil, ErrNoCUDA }
