"""network.py: the book's per-sample network, ported to Python 3.

A port of the network.py of chapter 1 of Nielsen's "Neural Networks and
Deep Learning", written from the algorithm the chapter describes and kept to
its structure: a Network class with sizes, biases and weights as lists of
column vectors and out×in matrices, feedforward, SGD, update_mini_batch
(summing per-sample gradients), backprop (one sample at a time), evaluate
and cost_derivative, and the module functions sigmoid and sigmoid_prime.

What differs, and why:
  * Python 3 (range, print) and numpy only; MNIST comes from the IDX .gz
    files through peerlib instead of the book's mnist.pkl.gz.
  * --dtype float32 casts the data and parameters, and the gradient
    accumulators are allocated in the parameters' dtype so that the whole
    run stays in float32 (np.zeros alone would promote it back to float64).
    float64 is the book's.
  * SGD reports each epoch through a callback (a JSON line) with the time
    spent on the epoch's mini-batches, instead of printing "Epoch j: ...".

Run: python3 network.py --sizes 784,30,10 --epochs 30 --batch-size 10 --eta 3.0
"""

import random
import time

import numpy as np

import peerlib


class Network(object):

    def __init__(self, sizes):
        """sizes[l] is the number of neurons in layer l; the first layer is
        the input and has no biases. Every bias and weight is drawn from
        N(0, 1), as in the book."""
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(n, 1) for n in sizes[1:]]
        self.weights = [np.random.randn(n_out, n_in)
                        for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def astype(self, dtype):
        """Cast every parameter to dtype (the --dtype flag; not in the book)."""
        self.biases = [b.astype(dtype) for b in self.biases]
        self.weights = [w.astype(dtype) for w in self.weights]

    def feedforward(self, a):
        """The network's output for the input column vector a."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta,
            test_data=None, report=None, shuffle=True):
        """Mini-batch stochastic gradient descent. training_data is a list
        of (x, y) column-vector pairs, test_data a list of (x, digit) pairs
        evaluated after every epoch when given. report(epoch, correct,
        total, seconds) receives each epoch's result; shuffle=False keeps
        the file order (not in the book; for comparing parameters)."""
        n = len(training_data)
        n_test = len(test_data) if test_data else 0
        for j in range(epochs):
            if shuffle:
                random.shuffle(training_data)
            start = time.perf_counter()
            mini_batches = [training_data[k:k + mini_batch_size]
                            for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            seconds = time.perf_counter() - start
            correct = self.evaluate(test_data) if test_data else 0
            if report is not None:
                report(j, correct, n_test, seconds)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step: the gradient of every sample of the
        mini-batch from backprop, summed, then w ← w − (η/m)·Σ∇w."""
        nabla_b = [np.zeros(b.shape, b.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, w.dtype) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        step = eta / len(mini_batch)
        self.weights = [w - step * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - step * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """The gradient (nabla_b, nabla_w) of the cost C_x of one sample,
        layer by layer like biases and weights."""
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        # Forward pass, keeping every weighted input z and activation.
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # Backward pass. As in the book, l counts layers from the end
        # (l = 1 is the output layer) so that negative indices work.
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """How many test inputs the network classifies right: its answer is
        the output neuron with the highest activation."""
        results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in results)

    def cost_derivative(self, output_activations, y):
        """∂C_x/∂a for the quadratic cost C_x = ½‖y − a‖²."""
        return output_activations - y


def sigmoid(z):
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z))."""
    return sigmoid(z) * (1 - sigmoid(z))


def main():
    args = peerlib.parse_args("The book's network.py (per-sample backprop) on MNIST.")
    random.seed(args.seed)
    np.random.seed(args.seed)
    tr_x, tr_y, ev_x, ev_y = peerlib.select(args, peerlib.load(args.data, args.dtype))
    # The book's data layout (mnist_loader.load_data_wrapper): a list of
    # (784×1 input, 10×1 unit vector) pairs, and (input, digit) for testing.
    targets = peerlib.one_hot(tr_y, args.dtype)
    training_data = [(x.reshape(784, 1), y.reshape(10, 1)) for x, y in zip(tr_x, targets)]
    test_data = None
    if ev_x is not None:
        test_data = [(x.reshape(784, 1), int(y)) for x, y in zip(ev_x, ev_y)]
    net = Network(args.sizes)
    if args.init:
        net.weights, net.biases = peerlib.load_model(args.init, args.sizes)
    net.astype(args.dtype)
    net.SGD(training_data, args.epochs, args.batch_size, args.eta,
            test_data=test_data, report=peerlib.emit, shuffle=not args.no_shuffle)
    if args.save:
        peerlib.save_model(args.save, args.sizes, net.weights, net.biases)


if __name__ == "__main__":
    main()
