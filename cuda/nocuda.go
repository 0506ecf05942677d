//go:build !gpu

package cuda

import (
	"github.com/gputrain/gputrain/graph"
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/graph/train"
	"github.com/gputrain/gputrain/mnist"
)

// Available reports whether this binary was built with CUDA support.
const Available = false

// Open fails with ErrNoCUDA: this binary was built without the gpu tag.
func Open(train.Config, *mnist.Set) (train.Trainer, error) { return nil, ErrNoCUDA }

// OpenPredictor fails with ErrNoCUDA: this binary was built without the gpu tag.
func OpenPredictor(network.Spec, graph.Dtype) (train.Predictor, error) { return nil, ErrNoCUDA }

// Group is a sweep's networks trained as one batched program on CUDA; in
// this build its Open fails with ErrNoCUDA.
type Group struct{}

// NewGroup returns a group whose Open fails with ErrNoCUDA.
func NewGroup() *Group { return &Group{} }

// Open fails with ErrNoCUDA: this binary was built without the gpu tag.
func (*Group) Open(train.Config, *mnist.Set) (train.Trainer, error) { return nil, ErrNoCUDA }

// Describe says what CUDA support this binary has, for --version.
func Describe() string {
	return "not in this build (make cuda builds bin/gputrain-cuda)"
}

// Doctor has nothing to check in a build without CUDA: gputrain doctor
// says so from the CPU build's side.
func Doctor(ptxFile string) []Check { return nil }
