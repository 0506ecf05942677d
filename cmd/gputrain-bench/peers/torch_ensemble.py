"""torch_ensemble.py: many book networks trained at once in PyTorch, the
torch.func way (stack_module_state + vmap over grad), as issue 23 compares
`gputrain sweep` with.

Each of --networks networks is the book's [784,30,10] sigmoid network
(N(0,1) weights and biases, quadratic cost), trained by mini-batch SGD with
its own shuffle of the training images each epoch and its own η: the etas
of --etas in turn. vmap cannot give each model its own scalar learning rate
(functorch #996), so each model's gradient is scaled by its η after the
vmapped grad, before the one stacked update. Everything stays on --device.

One JSON line per epoch: {"networks", "epoch", "seconds", "networks_per_second"},
seconds ending at a device synchronisation; then the test accuracy of the
best and the mean network.

It uses torch.func (PyTorch 2) or, on PyTorch 1.13, functorch's
combine_state_for_ensemble, which does the same.

Run: python3 torch_ensemble.py --networks 256 --epochs 1 --data DIR --device cuda
"""

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

import peerlib


def book_model(sizes, gen):
    layers = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(i, o)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(o, i, generator=gen))
            lin.bias.copy_(torch.randn(o, generator=gen))
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers)


def ensemble(models):
    """(forward(params, x), params as a list of stacked tensors)."""
    try:
        from torch.func import functional_call, stack_module_state
        params, buffers = stack_module_state(models)
        names = list(params)
        base = models[0]

        def forward(ps, x):
            return functional_call(base, ({n: p for n, p in zip(names, ps)}, buffers), (x,))
        return forward, [params[n] for n in names]
    except ImportError:
        from functorch import combine_state_for_ensemble
        fmodel, params, buffers = combine_state_for_ensemble(models)
        return (lambda ps, x: fmodel(ps, buffers, x)), list(params)


def vmap_grad():
    try:
        from torch.func import grad, vmap
    except ImportError:
        from functorch import grad, vmap
    return grad, vmap


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", type=int, default=256)
    p.add_argument("--etas", default="0.5,1,2,3")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--train-limit", type=int, default=0)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--init", default="", help="start every network from this model (network2.py JSON)")
    p.add_argument("--no-shuffle", action="store_true", help="mini-batches in file order (for comparing parameters)")
    p.add_argument("--save-dir", default="", help="write network K's model to DIR/net-K.json")
    a = p.parse_args()
    dev = torch.device(a.device)
    tdt = getattr(torch, a.dtype)
    tr_x, tr_y, _, _, te_x, te_y = peerlib.load(a.data, a.dtype)
    if a.train_limit:
        tr_x, tr_y = tr_x[:a.train_limit], tr_y[:a.train_limit]
    x = torch.tensor(tr_x, device=dev)
    y = torch.tensor(peerlib.one_hot(tr_y, a.dtype), device=dev)
    n, m, N = len(tr_y), a.batch_size, a.networks
    etas = [float(e) for e in a.etas.split(",")]
    eta = torch.tensor([etas[k % len(etas)] for k in range(N)], device=dev)

    gen = torch.Generator().manual_seed(1)
    models = [book_model([784, 30, 10], gen).to(dtype=tdt) for _ in range(N)]
    if a.init:  # into parameters of --dtype already, not rounded through float32
        ws, bs = peerlib.load_model(a.init, [784, 30, 10])
        for model in models:
            with torch.no_grad():
                for lin, w, b in zip(model[::2], ws, bs):
                    lin.weight.copy_(torch.tensor(w))
                    lin.bias.copy_(torch.tensor(b.ravel()))
    models = [model.to(device=dev, dtype=tdt) for model in models]
    forward, params = ensemble(models)
    grad, vmap = vmap_grad()

    def cost(ps, xb, yb):  # the book's C = 1/(2m) Σ‖y − a‖² over the batch
        return 0.5 * ((forward(ps, xb) - yb) ** 2).sum(-1).mean()
    step_grad = vmap(grad(cost))
    for e in range(a.epochs):
        order = torch.argsort(torch.rand(N, n, device=dev), dim=1)  # one shuffle per network
        if a.no_shuffle:
            order = torch.arange(n, device=dev).expand(N, n)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for k in range(0, n, m):
            idx = order[:, k:k + m]
            g = step_grad(params, x[idx], y[idx])
            with torch.no_grad():
                for pp, gg in zip(params, g):
                    pp -= eta.view(-1, *([1] * (pp.dim() - 1))) * gg
        if dev.type == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - start
        print(json.dumps({"networks": N, "epoch": e, "seconds": secs, "networks_per_second": N / secs}), flush=True)
    if a.save_dir:
        for k in range(N):  # params are [w1, b1, w2, b2], each stacked over the networks
            peerlib.save_model("%s/net-%d.json" % (a.save_dir, k), [784, 30, 10],
                               [params[0][k].cpu().numpy(), params[2][k].cpu().numpy()],
                               [params[1][k].cpu().numpy(), params[3][k].cpu().numpy()])
    with torch.no_grad():
        xt = torch.tensor(te_x, device=dev)
        out = vmap(forward, in_dims=(0, None))(params, xt)
        acc = (out.argmax(-1).cpu().numpy() == te_y[None, :]).mean(axis=1)
    print(json.dumps({"networks": N, "test_best": float(acc.max()), "test_mean": float(acc.mean())}), flush=True)


if __name__ == "__main__":
    main()
