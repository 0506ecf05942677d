"""batched_numpy.py: the book's rule with whole mini-batches as matrices.

The same network, cost, initialisation distribution and update as
network.py, w ← w − (η/m)·Σₓ ∂Cₓ/∂w, but each mini-batch goes through the
network as one m×784 matrix: every per-sample product of network.py becomes
one matrix product over the batch (one BLAS call), and the sum over the
samples of the batch happens inside that product. Rows are samples, so a
layer is Z = A·Wᵀ + bᵀ with W out×in as in the book.

With --cost cross-entropy, --lambda and --weight-init scaled it is
network2.py's chapter 3 instead: the output error δ = a − y, the L2 step
w ← (1 − ηλ/n)·w − (η/m)·Σₓ ∂Cₓ/∂w with n the training images (biases not
decayed), and weights drawn N(0, 1/n_in).

Run: python3 batched_numpy.py --sizes 784,30,10 --epochs 30 --batch-size 10 --eta 3.0
"""

import time

import numpy as np

import peerlib


def sigmoid(z, out=None):
    """σ(z) = 1/(1 + e^(−z)), in place into out when given."""
    out = np.negative(z, out=out)
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


class BatchedNetwork(object):

    def __init__(self, sizes, dtype, cost="quadratic", lmbda=0.0, scaled=False):
        self.sizes = sizes
        self.cost = cost
        self.lmbda = lmbda
        self.biases = [np.random.randn(n).astype(dtype) for n in sizes[1:]]
        # network2's default_weight_initializer divides by √n_in.
        self.weights = [(np.random.randn(n_out, n_in) / (np.sqrt(n_in) if scaled else 1)).astype(dtype)
                        for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Output rows for the input rows a."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(a @ w.T + b)
        return a

    def update_mini_batch(self, x, y, eta, n):
        """One SGD step on the m×784 inputs x and m×10 targets y, of a
        training set of n images (the L2 step's n)."""
        # Forward, keeping the activations; σ'(z) = a(1 − a) needs no z.
        activations = [x]
        for b, w in zip(self.biases, self.weights):
            activations.append(sigmoid(activations[-1] @ w.T + b))
        a = activations[-1]
        if self.cost == "cross-entropy":
            delta = a - y  # network2's CrossEntropyCost.delta
        else:
            delta = (a - y) * a * (1 - a)
        step = eta / len(x)
        decay = 1 - eta * (self.lmbda / n)
        for l in range(len(self.weights) - 1, -1, -1):
            w = self.weights[l]
            # The gradient of the layer below needs w before its update.
            below = None
            if l > 0:
                a_prev = activations[l]
                below = (delta @ w) * a_prev * (1 - a_prev)
            if self.lmbda:
                w *= decay
            w -= step * (delta.T @ activations[l])
            self.biases[l] -= step * delta.sum(axis=0)
            delta = below

    def evaluate(self, x, labels):
        return int(np.count_nonzero(np.argmax(self.feedforward(x), axis=1) == labels))


def chapter3_flags(p):
    p.add_argument("--cost", choices=["quadratic", "cross-entropy"], default="quadratic")
    p.add_argument("--lambda", dest="lmbda", type=float, default=0.0,
                   help="L2 regularisation λ (network2's lmbda)")
    p.add_argument("--weight-init", choices=["large", "scaled"], default="large")


def main():
    args = peerlib.parse_args("The book's rule on whole mini-batches, in numpy.", chapter3_flags)
    rng = np.random.default_rng(args.seed)
    # exp(−z) overflows to inf for very negative z in float32; σ is then
    # exactly 0, which is right, so the warning is noise.
    np.seterr(over="ignore")
    np.random.seed(args.seed)
    tr_x, tr_y, ev_x, ev_y = peerlib.select(args, peerlib.load(args.data, args.dtype))
    targets = peerlib.one_hot(tr_y, args.dtype)
    net = BatchedNetwork(args.sizes, args.dtype, args.cost, args.lmbda, args.weight_init == "scaled")
    if args.init:
        weights, biases = peerlib.load_model(args.init, args.sizes)
        net.weights = [w.astype(args.dtype) for w in weights]
        net.biases = [b.ravel().astype(args.dtype) for b in biases]
    n, m = len(tr_y), args.batch_size
    for epoch in range(args.epochs):
        order = np.arange(n) if args.no_shuffle else rng.permutation(n)
        start = time.perf_counter()
        # Gathering the shuffled rows once per epoch is part of the epoch.
        xs, ys = tr_x[order], targets[order]
        for k in range(0, n, m):
            net.update_mini_batch(xs[k:k + m], ys[k:k + m], args.eta, n)
        seconds = time.perf_counter() - start
        correct, total = 0, 0
        if ev_x is not None:
            correct, total = net.evaluate(ev_x, ev_y), len(ev_y)
        peerlib.emit(epoch, correct, total, seconds)
    if args.save:
        cost = {"quadratic": "QuadraticCost", "cross-entropy": "CrossEntropyCost"}[args.cost]
        peerlib.save_model(args.save, args.sizes, net.weights, net.biases, cost)


if __name__ == "__main__":
    main()
