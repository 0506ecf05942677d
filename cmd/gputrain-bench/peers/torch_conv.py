"""torch_conv.py: network3.py's convolutional networks in PyTorch on the CPU.

The peer of `gputrain train --layers`: the same layer string (issue 24's
syntax: conv:20x5x5, pool:2, fc:100, softmax:10, each with the options relu
or sigmoid and dropout=P), network3's initialisation, cost and update:

- ConvPoolLayer: a valid convolution, max-pooling over whole windows, then
  the activation of the pooled value plus one bias per feature map. Here
  the bias is added by the convolution and the activation follows the
  pooling: the same values, since adding a constant and any non-decreasing
  activation commute with a max.
- Weights N(0, 1/n_out): for a convolution n_out = filters·k·k / pool area
  (the pool that follows it), for a fully connected layer its outputs;
  biases N(0, 1); the softmax layer's weights and biases zero.
- Cost: the mean log-likelihood over the mini-batch plus network3's L2
  term 0.5·λ·Σw² / (number of training mini-batches), every layer's
  weights, no biases. Update: plain SGD, w ← w − η·∂cost/∂w.
- Dropout (fc and softmax layers): each unit of the layer's input is kept
  with probability 1 − p and not rescaled; at evaluation the layer's
  weights are scaled by 1 − p.

Threads: torch.set_num_threads(2) (--threads); Debian's torch runs the
float32 convolutions in oneDNN (mkldnn), which is checked and reported in
each epoch's line. Prints peerlib's JSON line per epoch, with the epoch's
mean training cost.

Run: python3 torch_conv.py --layers conv:20x5x5,pool:2,fc:100,softmax:10 --eta 0.1 --epochs 1 --dtype float32
"""

import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import peerlib


def extra_flags(p):
    p.add_argument("--layers", default="conv:20x5x5,pool:2,fc:100,softmax:10",
                   help="the layers after the 28×28 input, as gputrain train --layers")
    p.add_argument("--lambda", dest="lmbda", type=float, default=0.0,
                   help="network3's L2 λ: 0.5·λ·Σw² / (training mini-batches)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")


def parse_layers(spec):
    """Issue 24's --layers: [(kind, args, activation, dropout)], checked
    against a 1×28×28 input; an impossible stack exits with one line."""
    layers, shape = [], (1, 28, 28)
    for i, item in enumerate(spec.split(",")):
        parts = item.split(":")
        kind, args, act, p = parts[0], parts[1] if len(parts) > 1 else "", None, 0.0
        for opt in parts[2:]:
            if opt in ("relu", "sigmoid"):
                act = opt
            elif opt.startswith("dropout="):
                p = float(opt[len("dropout="):])
            else:
                sys.exit("--layers: layer %d %r: unknown option %r" % (i, item, opt))
        try:
            if kind == "conv":
                f, kh, kw = (int(v) for v in args.split("x"))
                if shape[1] < kh or shape[2] < kw:
                    raise ValueError("a %dx%d filter on a %dx%d input" % (kh, kw, shape[1], shape[2]))
                layers.append(("conv", (shape[0], f, kh, kw), act or "sigmoid", p))
                shape = (f, shape[1] - kh + 1, shape[2] - kw + 1)
            elif kind == "pool":
                k = int(args)
                if shape[1] < k or shape[2] < k:
                    raise ValueError("a %dx%d pool on a %dx%d input" % (k, k, shape[1], shape[2]))
                layers.append(("pool", k, act, p))
                shape = (shape[0], shape[1] // k, shape[2] // k)
            elif kind in ("fc", "softmax"):
                n = int(args)
                layers.append((kind, (int(np.prod(shape)), n), act or "sigmoid", p))
                shape = (n, 1, 1)
            else:
                raise ValueError("unknown kind %r" % kind)
        except ValueError as e:
            sys.exit("--layers: layer %d %r: %s" % (i, item, e))
    if layers[-1][0] != "softmax" or layers[-1][1][1] != 10:
        sys.exit("--layers: the last layer must be softmax:10")
    return layers


ACT = {"sigmoid": torch.sigmoid, "relu": F.relu}


class ConvNet(object):
    """network3's layers as tensors: params holds (w, b) per layer with
    parameters, None for a pool."""

    def __init__(self, layers, dtype):
        self.layers = layers
        self.params = []
        for i, (kind, shape, act, p) in enumerate(layers):
            if kind == "conv":
                c, f, kh, kw = shape
                follow = layers[i + 1] if i + 1 < len(layers) else None
                area = follow[1] ** 2 if follow is not None and follow[0] == "pool" else 1
                n_out = f * kh * kw / area
                w = torch.randn(f, c, kh, kw, dtype=dtype) * np.sqrt(1.0 / n_out)
                b = torch.randn(f, dtype=dtype)
            elif kind == "fc":
                n_in, n_out = shape
                w = torch.randn(n_in, n_out, dtype=dtype) * np.sqrt(1.0 / n_out)
                b = torch.randn(n_out, dtype=dtype)
            elif kind == "softmax":
                w = torch.zeros(shape, dtype=dtype)
                b = torch.zeros(shape[1], dtype=dtype)
            else:
                self.params.append(None)
                continue
            w.requires_grad_(True)
            b.requires_grad_(True)
            self.params.append((w, b))

    def weights(self):
        return [wb[0] for wb in self.params if wb is not None]

    def forward(self, x, train):
        """The log-probabilities of the ten digits for x, n×1×28×28."""
        a, pooled = x, None  # pooled: the activation the next pool applies
        for i, (kind, arg, act, p) in enumerate(self.layers):
            wb = self.params[i]
            if kind == "conv":
                a = F.conv2d(a, wb[0], wb[1])
                if i + 1 < len(self.layers) and self.layers[i + 1][0] == "pool":
                    pooled = act
                else:
                    a = ACT[act](a)
            elif kind == "pool":
                a = F.max_pool2d(a, arg)
                if pooled is not None:
                    a, pooled = ACT[pooled](a), None
            else:
                a = a.reshape(len(a), -1)
                w = wb[0]
                if p > 0 and train:
                    a = a * torch.bernoulli(torch.full_like(a, 1 - p))
                elif p > 0:
                    w = w * (1 - p)
                z = torch.addmm(wb[1], a, w)
                a = F.log_softmax(z, dim=1) if kind == "softmax" else ACT[act](z)
        return a

    def step(self, x, y, eta, l2):
        logp = self.forward(x, True)
        cost = F.nll_loss(logp, y)
        if l2:
            cost = cost + l2 * sum((w * w).sum() for w in self.weights())
        cost.backward()
        with torch.no_grad():
            for wb in self.params:
                if wb is not None:
                    for t in wb:
                        t -= eta * t.grad
                        t.grad = None
        return float(cost)

    @torch.no_grad()
    def evaluate(self, x, labels):
        right = 0
        for k in range(0, len(x), 1000):
            right += int((self.forward(x[k:k + 1000], False).argmax(1) == labels[k:k + 1000]).sum())
        return right


def main():
    args = peerlib.parse_args("network3.py's convolutional networks in PyTorch (CPU).", extra_flags)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    layers = parse_layers(args.layers)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    tr_x, tr_y, ev_x, ev_y = peerlib.select(args, peerlib.load(args.data, args.dtype))
    xs_all = torch.from_numpy(np.ascontiguousarray(tr_x)).reshape(-1, 1, 28, 28)
    ys_all = torch.from_numpy(tr_y.astype(np.int64))
    if ev_x is not None:
        ev_x = torch.from_numpy(np.ascontiguousarray(ev_x)).reshape(-1, 1, 28, 28)
        ev_y = torch.from_numpy(ev_y.astype(np.int64))
    net = ConvNet(layers, dtype)
    gen = torch.Generator().manual_seed(args.seed)
    n, m = len(tr_y), args.batch_size
    # network3's num_training_batches: size(training_data) / mini_batch_size.
    l2 = 0.5 * args.lmbda / (n / m)
    onednn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
    for epoch in range(args.epochs):
        order = torch.arange(n) if args.no_shuffle else torch.randperm(n, generator=gen)
        start = time.perf_counter()
        xs, ys = xs_all[order], ys_all[order]
        total_cost = 0.0
        for k in range(0, n, m):
            total_cost += net.step(xs[k:k + m], ys[k:k + m], args.eta, l2) * len(ys[k:k + m])
        seconds = time.perf_counter() - start
        correct, total = 0, 0
        if ev_x is not None:
            correct, total = net.evaluate(ev_x, ev_y), len(ev_y)
        peerlib.emit(epoch, correct, total, seconds, cost=total_cost / n,
                     threads=torch.get_num_threads(), onednn=onednn, torch=torch.__version__)


if __name__ == "__main__":
    main()
