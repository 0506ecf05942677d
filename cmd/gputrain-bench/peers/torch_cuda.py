"""torch_cuda.py: the book's network and rule in PyTorch on an NVIDIA GPU.

The same network, rule, flags and JSON lines as torch_sgd.py (whose
TorchNetwork it uses), with every tensor on the GPU and three ways of
stepping, from the plainest to the strongest PyTorch offers:

  --grad autograd        autograd, then w ← w − η·∂C/∂w by hand (eager)
  --grad explicit        the book's backprop equations as matrix products (eager)
  --grad explicit-graph  the explicit step over a whole epoch's full
                         mini-batches captured once in a torch.cuda.CUDAGraph
                         and replayed each epoch: one launch per epoch

An epoch's seconds end at torch.cuda.synchronize(), so they hold the GPU's
work, not just its queueing. gputrain's GPU kit runs it beside gputrain.

Run: python3 torch_cuda.py --grad explicit-graph --data DIR --epochs 3
"""

import time

import numpy as np
import torch

import peerlib
from torch_sgd import TorchNetwork


def extra_flags(p):
    p.add_argument("--grad", choices=["autograd", "explicit", "explicit-graph"], default="autograd",
                   help="how gradients are computed and steps launched")


class CudaNetwork(TorchNetwork):

    def __init__(self, sizes, dtype, grad, device):
        super().__init__(sizes, dtype, "autograd" if grad == "autograd" else "explicit")
        self.device = device
        self._to_device()

    def set_parameters(self, weights, biases):
        super().set_parameters(weights, biases)
        self._to_device()

    def _to_device(self):
        def move(t):
            t = t.detach().to(self.device)
            return t.requires_grad_(True) if not self.explicit else t
        self.weights = [move(w) for w in self.weights]
        self.biases = [move(b) for b in self.biases]


class EpochGraph(object):
    """One captured replay of every full mini-batch of an epoch, reading
    the epoch's shuffled images from fixed buffers."""

    def __init__(self, net, xs, ys, m, eta):
        self.xs, self.ys = xs, ys
        steps = len(xs) // m
        # Warm-up on a side stream, as PyTorch asks before a capture (cuBLAS
        # sets itself up there); the steps it takes are undone after.
        saved = [p.clone() for p in net.weights + net.biases]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                net.update_mini_batch(xs[:m], ys[:m], eta)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            for k in range(0, steps * m, m):
                net.update_mini_batch(xs[k:k + m], ys[k:k + m], eta)
        with torch.no_grad():
            for p, s in zip(net.weights + net.biases, saved):
                p.copy_(s)

    def run(self, xs, ys):
        self.xs.copy_(xs)
        self.ys.copy_(ys)
        self.graph.replay()


def main():
    args = peerlib.parse_args("The book's rule in PyTorch on a CUDA GPU.", extra_flags)
    if not torch.cuda.is_available():
        raise SystemExit("torch_cuda.py: PyTorch sees no CUDA device")
    dev = torch.device("cuda")
    torch.manual_seed(args.seed)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    tr_x, tr_y, ev_x, ev_y = peerlib.select(args, peerlib.load(args.data, args.dtype))
    xs_all = torch.from_numpy(np.ascontiguousarray(tr_x)).to(dev)
    ys_all = torch.from_numpy(peerlib.one_hot(tr_y, args.dtype)).to(dev)
    if ev_x is not None:
        ev_x = torch.from_numpy(np.ascontiguousarray(ev_x)).to(dev)
        ev_y = torch.from_numpy(ev_y.astype(np.int64)).to(dev)
    net = CudaNetwork(args.sizes, dtype, args.grad, dev)
    if args.init:
        weights, biases = peerlib.load_model(args.init, args.sizes)
        net.set_parameters(weights, biases)
    gen = torch.Generator().manual_seed(args.seed)
    n, m = len(tr_y), args.batch_size
    full = n // m * m
    graph = None
    if args.grad == "explicit-graph" and full > 0:
        graph = EpochGraph(net, torch.empty_like(xs_all), torch.empty_like(ys_all), m, args.eta)
    for epoch in range(args.epochs):
        order = torch.arange(n) if args.no_shuffle else torch.randperm(n, generator=gen)
        order = order.to(dev)
        torch.cuda.synchronize()
        start = time.perf_counter()
        xs, ys = xs_all[order], ys_all[order]
        first = 0
        if graph is not None:
            graph.run(xs, ys)
            first = full
        for k in range(first, n, m):
            net.update_mini_batch(xs[k:k + m], ys[k:k + m], args.eta)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        correct, total = 0, 0
        if ev_x is not None:
            correct, total = net.evaluate(ev_x, ev_y), len(ev_y)
        peerlib.emit(epoch, correct, total, seconds, grad=args.grad, device=torch.cuda.get_device_name())
    if args.save:
        peerlib.save_model(args.save, args.sizes,
                           [w.detach().cpu().numpy() for w in net.weights],
                           [b.detach().cpu().numpy() for b in net.biases])


if __name__ == "__main__":
    main()
