package train

import (
	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Slot is where a data set lives on a machine: the training set, loaded
// once, or one other set (evaluation, monitors, prediction) at a time.
type Slot uint8

// The two slots.
const (
	TrainingSlot Slot = iota
	OtherSlot
)

// Machine is a backend: one device that holds a network's parameters and
// data sets and runs compiled programs on batches of images chosen by
// index. It knows nothing of epochs, divergence or progress: Session does
// that, alike for every machine. How it runs a program (threads, CUDA
// graphs captured and replayed) is its own business. A machine is not safe
// for concurrent use.
type Machine interface {
	// Load copies s's images and labels into slot, replacing what it held.
	Load(slot Slot, s *mnist.Set) error
	// SetParams copies n's weights and biases to the machine (n matches
	// the spec the machine was opened for); Params copies them back.
	SetParams(n *network.Network) error
	Params() (*network.Network, error)
	// Order gives the indices into the training slot that the next
	// training steps take their batches from, in turn, and restarts the
	// step count.
	//
	// step is the run's number of the first of those steps (mini-batches
	// since the run began, across epochs and resumes): the dropout masks
	// are drawn from the run's seed and it (graph/dropout), so that every
	// machine and a resumed run draw the same ones.
	Order(order []int32, step uint64) error
	// Train runs k training steps of batch m over the next k·m indices of
	// the order; each step records its cost, the mean over its batch.
	Train(m, k int) error
	// Costs fills dst with the recorded costs of the first len(dst) steps
	// since Order.
	Costs(dst []float64) error
	// Forward runs the forward program on images lo … lo+m−1 of slot, m
	// being len(out)/network.OutputSize, and fills out with their output
	// activations, row by row. With cost it also returns the mean over the
	// batch of the network's cost (without the L2 term).
	Forward(slot Slot, lo int, out []float64, cost bool) (float64, error)
	// Close frees the device's resources.
	Close() error
}

// Kind is what a compiled program does.
type Kind uint8

// The programs a machine runs.
const (
	StepProgram    Kind = iota // a training step: forward, cost, gradients, SGD update
	ForwardProgram             // the forward pass alone
	CostProgram                // the forward pass and the batch's mean cost: the monitors'
)
