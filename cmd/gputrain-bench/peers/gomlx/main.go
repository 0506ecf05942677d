// Command gomlx is gputrain-bench's GoMLX peer: the book's network trained
// with GoMLX v0.26.0 on its pure-Go backend (simplego), written as a Go
// user of GoMLX would write it. The model function declares its variables
// in a context; GoMLX differentiates the cost; train.Trainer runs the steps
// with GoMLX's own SGD optimizer. That idiomatic form states the book's rule
// exactly once three defaults are set aside, each of which would silently
// change it:
//
//   - the cost is written out as ΣΣ(y−a)²/(2m): losses.MeanSquaredError
//     averages over the 10 outputs as well, which would cut η by 5;
//   - the optimizer's learning-rate decay (η/√step by default) is off;
//   - variables start from --init's network, or from a N(0,1) initialiser,
//     not from GoMLX's default uniform ±0.05.
//
// It takes gputrain's training flags and prints the benchmark's JSON line
// per epoch. The module is separate from gputrain's so that gputrain does
// not take GoMLX's dependencies; XLA, GoMLX's other backend, needs its C++
// libraries (PJRT), which an offline machine cannot fetch, so only simplego
// is built in.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/gputrain/gputrain/cmd/internal/trainflags"
	gnet "github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

func main() {
	os.Exit(trainflags.Main("gomlx", os.Args[1:], os.Stdout, os.Stderr, fit[float32], fit[float64]))
}

// fit trains as p asks, from --init's network or GoMLX's own N(0,1)
// draw, and returns the network it ends with.
func fit[T float32 | float64](p *trainflags.Peer, net *gnet.Network, training, eval *mnist.Set, stdout io.Writer) (*gnet.Network, error) {
	backend, err := backends.NewWithConfig("go")
	if err != nil {
		return nil, err
	}
	dt := dtypes.FromGenericsType[T]()
	ctx := context.New()
	ctx.SetParam(initializers.ParamInitialSeed, int64(p.Seed))
	ctx = ctx.WithInitializer(initializers.RandomNormalFn(ctx, 1))
	if p.Init != "" {
		for l := range net.Weights {
			out, in := net.Sizes[l+1], net.Sizes[l]
			lc := ctx.In(layerScope(l))
			lc.VariableWithValue("weights", tensors.FromFlatDataAndDimensions(convert[T](net.Weights[l]), out, in))
			lc.VariableWithValue("biases", tensors.FromFlatDataAndDimensions(convert[T](net.Biases[l]), out))
		}
	}
	model := func(ctx *context.Context, _ any, inputs []*Node) []*Node {
		return []*Node{forward(ctx, p.Sizes, dt, inputs[0])}
	}
	opt := optimizers.StochasticGradientDescent().WithDecay(false).WithLearningRate(p.Eta).Done()
	trainer := train.NewTrainer(backend, ctx, model, quadraticCost, opt, nil, nil)
	predict := context.MustNewExec(backend, ctx, func(ctx *context.Context, x *Node) *Node {
		return ArgMax(forward(ctx, p.Sizes, dt, x), 1, dtypes.Int32)
	})
	var evalX *tensors.Tensor
	if eval != nil {
		evalX = tensors.FromFlatDataAndDimensions(mnist.Floats[T](eval), eval.Len(), mnist.Pixels)
	}

	pix := mnist.Floats[T](training)
	step := func(idx []int32) error {
		x, y := batch(pix, training.Labels, idx)
		_, err := trainer.TrainStep(nil, []*tensors.Tensor{x}, []*tensors.Tensor{y})
		return err
	}
	correct := func() (int, error) {
		digits, err := predict.Exec(evalX)
		if err != nil {
			return 0, err
		}
		n := 0
		for i, d := range tensors.MustCopyFlatData[int32](digits[0]) {
			if int(d) == int(eval.Labels[i]) {
				n++
			}
		}
		return n, nil
	}
	if err := p.Train(training.Len(), eval, step, correct, stdout); err != nil {
		return nil, err
	}
	return network[T](ctx, p.Sizes)
}

func layerScope(l int) string { return fmt.Sprintf("layer%d", l) }

// forward is the network: a = σ(a·wᵀ + b) per layer, with w stored out×in
// as the book (and network2.py's JSON) store it.
func forward(ctx *context.Context, sizes []int, dt dtypes.DType, a *Node) *Node {
	ctx = ctx.Checked(false) // the same variables serve every graph: each batch size's step and the evaluation
	for l := 0; l+1 < len(sizes); l++ {
		lc := ctx.In(layerScope(l))
		g := a.Graph()
		w := lc.VariableWithShape("weights", shapes.Make(dt, sizes[l+1], sizes[l])).ValueGraph(g)
		b := lc.VariableWithShape("biases", shapes.Make(dt, sizes[l+1])).ValueGraph(g)
		z := DotGeneral(a, []int{1}, nil, w, []int{1}, nil)
		a = Sigmoid(Add(z, ExpandAxes(b, 0)))
	}
	return a
}

// quadraticCost is the book's C = (1/2m)·Σₓ‖y−a‖², summed over the 10
// outputs and averaged over the m images only.
func quadraticCost(labels, predictions []*Node) *Node {
	y, a := labels[0], predictions[0]
	m := a.Shape().Dimensions[0]
	return DivScalar(ReduceAllSum(Square(Sub(y, a))), float64(2*m))
}

// batch gathers the images of idx and their one-hot labels.
func batch[T float32 | float64](pix []T, labels []uint8, idx []int32) (x, y *tensors.Tensor) {
	const in, out = mnist.Pixels, gnet.OutputSize
	xs, ys := make([]T, len(idx)*in), make([]T, len(idx)*out)
	for i, j := range idx {
		copy(xs[i*in:(i+1)*in], pix[int(j)*in:(int(j)+1)*in])
		ys[i*out+int(labels[j])] = 1
	}
	return tensors.FromFlatDataAndDimensions(xs, len(idx), in), tensors.FromFlatDataAndDimensions(ys, len(idx), out)
}

// network reads the trained variables back in gputrain's form.
func network[T float32 | float64](ctx *context.Context, sizes []int) (*gnet.Network, error) {
	n := &gnet.Network{Spec: gnet.Book(sizes)}
	for l := 0; l+1 < len(sizes); l++ {
		lc := ctx.In(layerScope(l))
		for _, v := range []struct {
			name string
			dst  *[][]float64
		}{{"weights", &n.Weights}, {"biases", &n.Biases}} {
			t, err := lc.GetVariable(v.name).Value()
			if err != nil {
				return nil, err
			}
			data, err := tensors.CopyFlatData[T](t)
			if err != nil {
				return nil, err
			}
			*v.dst = append(*v.dst, convert[float64](data))
		}
	}
	return n, n.Check()
}

func convert[T, F float32 | float64](xs []F) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}
