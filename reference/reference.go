// Package reference is the book's algorithm written plainly: network.py's
// and network2.py's stochastic gradient descent in float64, one sample at
// a time, with the book's names (sizes, weights, biases, eta, mini_batch,
// lmbda, n). It is slow on purpose and easy to follow beside the book; the
// compiled programs the backends run are tested against it.
//
// A column vector of numpy is a slice here, and weights[l] is the matrix
// of layer l+1 row by row: weights[l][j*sizes[l]+k] joins neuron k of
// layer l to neuron j of layer l+1, as in network.Network.
package reference

import (
	"math"

	"github.com/gputrain/gputrain/graph/network"
	"github.com/gputrain/gputrain/mnist"
)

// Sample is one (x, y) pair of the book's training_data: the 784 pixels
// in [0, 1] and the one-hot label.
type Sample struct{ X, Y []float64 }

// Samples is mnist_loader.py's load_data_wrapper for the images idx of s
// (all of them without idx): x the pixels scaled to [0, 1], y one-hot.
func Samples(s *mnist.Set, idx ...int) []Sample {
	if idx == nil {
		for i := range s.Len() {
			idx = append(idx, i)
		}
	}
	data := make([]Sample, len(idx))
	for i, k := range idx {
		x := make([]float64, mnist.Pixels)
		for j, p := range s.Image(k) {
			x[j] = float64(p) / 255
		}
		y := make([]float64, network.OutputSize)
		y[s.Labels[k]] = 1
		data[i] = Sample{x, y}
	}
	return data
}

func sigmoid(z float64) float64      { return 1 / (1 + math.Exp(-z)) }
func sigmoidPrime(z float64) float64 { return sigmoid(z) * (1 - sigmoid(z)) }

// hidden is a hidden neuron of chapter 3 and its derivative. ReLU's
// derivative at 0 is taken as 1, as Gorgonia's (z ≥ 0)·z has it.
func hidden(act network.Activation, z float64) (a, prime float64) {
	switch act {
	case network.Tanh:
		t := math.Tanh(z)
		return t, 1 - t*t
	case network.ReLU:
		if z >= 0 {
			return z, 1
		}
		return 0, 0
	}
	return sigmoid(z), sigmoidPrime(z)
}

// forward is feedforward keeping every layer's weighted inputs zs and
// activations (activations[0] is x).
func forward(net *network.Network, x []float64) (zs, activations [][]float64) {
	spec := net.Spec.Norm()
	L := len(net.Sizes) - 1
	activation := x
	activations = [][]float64{x}
	for l := range L {
		in, out := net.Sizes[l], net.Sizes[l+1]
		z := make([]float64, out)
		a := make([]float64, out)
		for j := range out {
			s := net.Biases[l][j]
			for k := range in {
				s += net.Weights[l][j*in+k] * activation[k]
			}
			z[j] = s
			if l < L-1 {
				a[j], _ = hidden(spec.Activation, s)
			} else {
				a[j] = sigmoid(s)
			}
		}
		if l == L-1 && spec.Output() == network.Softmax { // chapter 3's softmax layer
			var sum float64
			for j := range z {
				sum += math.Exp(z[j])
			}
			for j := range z {
				a[j] = math.Exp(z[j]) / sum
			}
		}
		zs, activations, activation = append(zs, z), append(activations, a), a
	}
	return zs, activations
}

// Feedforward returns the network's output for input a.
func Feedforward(net *network.Network, a []float64) []float64 {
	_, activations := forward(net, a)
	return activations[len(activations)-1]
}

// Backprop returns the gradient of the cost C_x of one sample (x, y):
// nabla_b and nabla_w, layer by layer, shaped as biases and weights.
func Backprop(net *network.Network, x, y []float64) (nablaB, nablaW [][]float64) {
	spec := net.Spec.Norm()
	L := len(net.Sizes) - 1
	zs, activations := forward(net, x)
	a := activations[L]
	// The output error δ^L: QuadraticCost.delta is (a−y)·σ'(z);
	// CrossEntropyCost.delta, and the softmax's with the log-likelihood, a−y.
	delta := make([]float64, len(a))
	for j := range delta {
		delta[j] = a[j] - y[j]
		if spec.Cost == network.Quadratic {
			delta[j] *= sigmoidPrime(zs[L-1][j])
		}
	}
	nablaB, nablaW = make([][]float64, L), make([][]float64, L)
	for l := L - 1; l >= 0; l-- {
		in := net.Sizes[l]
		nablaB[l] = delta
		nablaW[l] = make([]float64, len(delta)*in)
		for j := range delta {
			for k := range in {
				nablaW[l][j*in+k] = delta[j] * activations[l][k]
			}
		}
		if l == 0 {
			break
		}
		prev := make([]float64, in) // δ^l = (w^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l)
		for k := range in {
			var s float64
			for j := range delta {
				s += net.Weights[l][j*in+k] * delta[j]
			}
			_, prime := hidden(spec.Activation, zs[l-1][k])
			prev[k] = s * prime
		}
		delta = prev
	}
	return nablaB, nablaW
}

// UpdateMiniBatch is network2.py's update_mini_batch: backpropagation of
// every sample of miniBatch, the gradients summed, then
// w ← (1 − eta·lmbda/n)·w − (eta/m)·Σ nabla_w and b ← b − (eta/m)·Σ nabla_b,
// m being len(miniBatch) and n the size of the training set. With lmbda 0
// it is network.py's update_mini_batch.
func UpdateMiniBatch(net *network.Network, miniBatch []Sample, eta, lmbda float64, n int) {
	L := len(net.Sizes) - 1
	nablaB, nablaW := make([][]float64, L), make([][]float64, L)
	for l := range L {
		nablaB[l] = make([]float64, len(net.Biases[l]))
		nablaW[l] = make([]float64, len(net.Weights[l]))
	}
	for _, s := range miniBatch {
		deltaNablaB, deltaNablaW := Backprop(net, s.X, s.Y)
		for l := range L {
			for i := range nablaB[l] {
				nablaB[l][i] += deltaNablaB[l][i]
			}
			for i := range nablaW[l] {
				nablaW[l][i] += deltaNablaW[l][i]
			}
		}
	}
	m := float64(len(miniBatch))
	decay := 1.0
	if lmbda != 0 {
		decay = 1 - eta*lmbda/float64(n)
	}
	for l := range L {
		for i := range net.Weights[l] {
			net.Weights[l][i] = decay*net.Weights[l][i] - eta/m*nablaW[l][i]
		}
		for i := range net.Biases[l] {
			net.Biases[l][i] -= eta / m * nablaB[l][i]
		}
	}
}

// SGD is network2.py's SGD without its monitoring: for each epoch, the
// training data in the order order(epoch) gives (the book shuffles it),
// split into mini-batches of miniBatchSize, the last taking what is left.
func SGD(net *network.Network, trainingData []Sample, epochs, miniBatchSize int, eta, lmbda float64, order func(epoch int) []int) {
	n := len(trainingData)
	for epoch := range epochs {
		shuffled := order(epoch)
		for k := 0; k < n; k += miniBatchSize {
			var miniBatch []Sample
			for _, i := range shuffled[k:min(k+miniBatchSize, n)] {
				miniBatch = append(miniBatch, trainingData[i])
			}
			UpdateMiniBatch(net, miniBatch, eta, lmbda, n)
		}
	}
}

// Cost is C_x, the cost of one sample whose output is a: QuadraticCost's
// ½‖a−y‖², CrossEntropyCost's Σ −y·ln a − (1−y)·ln(1−a) (0·ln 0 taken as
// 0, the book's nan_to_num), or the log-likelihood −ln a_y.
func Cost(cost network.Cost, a, y []float64) float64 {
	var c float64
	for j := range a {
		switch cost {
		case network.CrossEntropy:
			if y[j] != 0 {
				c -= y[j] * math.Log(a[j])
			}
			if y[j] != 1 {
				c -= (1 - y[j]) * math.Log(1-a[j])
			}
		case network.LogLikelihood:
			if y[j] == 1 {
				c -= math.Log(a[j])
			}
		default:
			c += 0.5 * (a[j] - y[j]) * (a[j] - y[j])
		}
	}
	return c
}

// TotalCost is network2.py's total_cost: the mean cost over data plus the
// L2 term ½·(lmbda/len(data))·Σw².
func TotalCost(net *network.Network, data []Sample, lmbda float64) float64 {
	var cost float64
	for _, s := range data {
		cost += Cost(net.Spec.Norm().Cost, Feedforward(net, s.X), s.Y) / float64(len(data))
	}
	var sum float64
	for _, w := range net.Weights {
		for _, v := range w {
			sum += v * v
		}
	}
	return cost + 0.5*(lmbda/float64(len(data)))*sum
}

// Accuracy is network2.py's accuracy: how many samples' most active output
// is their label.
func Accuracy(net *network.Network, data []Sample) int {
	correct := 0
	for _, s := range data {
		if network.Digit(Feedforward(net, s.X)) == network.Digit(s.Y) {
			correct++
		}
	}
	return correct
}
