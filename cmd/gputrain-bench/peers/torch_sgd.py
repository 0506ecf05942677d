"""torch_sgd.py: the book's network and rule in PyTorch on the CPU.

Plain tensors, no nn.Module and no optimizer: the parameters are updated by
hand under torch.no_grad(), w ← w − η·∂C/∂w with C the mean over the
mini-batch of ½‖y − a‖² (the book's (η/m)·Σₓ ∂Cₓ/∂w). The gradients come
from autograd (--grad autograd, the default: cost.backward()) or from the
book's backprop equations written as matrix products (--grad explicit).
Rows are samples: a layer is Z = A·Wᵀ + b with W out×in as in the book.

Threads: Debian's torch does its matrix products in the system BLAS
(OpenBLAS with its own thread pool) and its element-wise ops in OpenMP
threads. Two pools of two threads on two cores fight: measured here,
torch.set_num_threads(2) with OpenBLAS on 2 threads ran [784,1000,10] at
batch 100 three to four times slower than either pool alone on 2 threads.
So by default the products get both cores (--blas-threads 2) and torch's
own pool one (--threads 1), the fastest of the combinations measured.

Run: python3 torch_sgd.py --sizes 784,30,10 --epochs 30 --batch-size 10 --eta 3.0
"""

import os
import sys
import time


def _blas_threads():
    # OpenBLAS reads its thread count when it loads, so this must run
    # before numpy and torch are imported. An explicit environment wins.
    for i, a in enumerate(sys.argv):
        if a == "--blas-threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
            break
        if a.startswith("--blas-threads="):
            n = a.split("=", 1)[1]
            break
    else:
        n = "2"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", n)


_blas_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import peerlib  # noqa: E402


def extra_flags(p):
    p.add_argument("--grad", choices=["autograd", "explicit"], default="autograd",
                   help="how gradients are computed")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads (intra-op threads, element-wise ops)")
    p.add_argument("--blas-threads", type=int, default=2,
                   help="OpenBLAS threads (matrix products) unless OPENBLAS_NUM_THREADS is set")


class TorchNetwork(object):

    def __init__(self, sizes, dtype, grad):
        self.explicit = grad == "explicit"
        self.biases = [torch.randn(n, dtype=dtype) for n in sizes[1:]]
        self.weights = [torch.randn(n_out, n_in, dtype=dtype)
                        for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        if not self.explicit:
            for p in self.biases + self.weights:
                p.requires_grad_(True)

    def set_parameters(self, weights, biases):
        """Replace the random parameters by the given numpy arrays."""
        dtype = self.weights[0].dtype
        self.weights = [torch.tensor(w, dtype=dtype) for w in weights]
        self.biases = [torch.tensor(b.ravel(), dtype=dtype) for b in biases]
        if not self.explicit:
            for p in self.biases + self.weights:
                p.requires_grad_(True)

    @torch.no_grad()
    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = torch.sigmoid(torch.addmm(b, a, w.t()))
        return a

    def update_mini_batch(self, x, y, eta):
        if self.explicit:
            self._explicit_step(x, y, eta)
        else:
            self._autograd_step(x, y, eta)

    def _autograd_step(self, x, y, eta):
        a = x
        for b, w in zip(self.biases, self.weights):
            a = torch.sigmoid(torch.addmm(b, a, w.t()))
        cost = ((a - y) ** 2).sum() / (2 * len(x))
        cost.backward()
        with torch.no_grad():
            for p in self.weights + self.biases:
                p -= eta * p.grad
                p.grad = None

    @torch.no_grad()
    def _explicit_step(self, x, y, eta):
        activations = [x]
        for b, w in zip(self.biases, self.weights):
            activations.append(torch.sigmoid(torch.addmm(b, activations[-1], w.t())))
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        step = eta / len(x)
        for l in range(len(self.weights) - 1, -1, -1):
            w = self.weights[l]
            below = None
            if l > 0:
                a_prev = activations[l]
                below = (delta @ w) * a_prev * (1 - a_prev)
            w.addmm_(delta.t(), activations[l], alpha=-step)
            self.biases[l].sub_(delta.sum(0), alpha=step)
            delta = below

    def evaluate(self, x, labels):
        return int((self.feedforward(x).argmax(1) == labels).sum())


def main():
    args = peerlib.parse_args("The book's rule in PyTorch (CPU, manual SGD).", extra_flags)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    tr_x, tr_y, ev_x, ev_y = peerlib.select(args, peerlib.load(args.data, args.dtype))
    xs_all = torch.from_numpy(np.ascontiguousarray(tr_x))
    ys_all = torch.from_numpy(peerlib.one_hot(tr_y, args.dtype))
    if ev_x is not None:
        ev_x = torch.from_numpy(np.ascontiguousarray(ev_x))
        ev_y = torch.from_numpy(ev_y.astype(np.int64))
    net = TorchNetwork(args.sizes, dtype, args.grad)
    if args.init:
        weights, biases = peerlib.load_model(args.init, args.sizes)
        net.set_parameters(weights, biases)
    gen = torch.Generator().manual_seed(args.seed)
    n, m = len(tr_y), args.batch_size
    for epoch in range(args.epochs):
        order = torch.arange(n) if args.no_shuffle else torch.randperm(n, generator=gen)
        start = time.perf_counter()
        xs, ys = xs_all[order], ys_all[order]
        for k in range(0, n, m):
            net.update_mini_batch(xs[k:k + m], ys[k:k + m], args.eta)
        seconds = time.perf_counter() - start
        correct, total = 0, 0
        if ev_x is not None:
            correct, total = net.evaluate(ev_x, ev_y), len(ev_y)
        peerlib.emit(epoch, correct, total, seconds, grad=args.grad,
                     threads=torch.get_num_threads(),
                     blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"))
    if args.save:
        peerlib.save_model(args.save, args.sizes,
                           [w.detach().numpy() for w in net.weights],
                           [b.detach().numpy() for b in net.biases])


if __name__ == "__main__":
    main()
