"""Shared plumbing of the Python peers of gputrain-bench.

Every peer takes the same flags as ``gputrain train`` (the subset the
benchmark uses), reads MNIST from the IDX ``.gz`` files with nothing but
gzip and numpy, splits it as the book's mnist_loader does (50,000 training,
10,000 validation, 10,000 test images) and prints one JSON object per epoch:
``{"epoch", "correct", "total", "accuracy", "seconds"}``, where ``seconds``
is the training time of the epoch alone, evaluation and loading excluded.
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np

VALIDATION = 10000


def parse_args(description, extra=None):
    """Parse the common flags; ``extra`` may add peer-specific ones."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--sizes", default="784,30,10",
                   help="layer sizes, comma-separated")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--data", default="data/mnist",
                   help="directory of the four MNIST .gz files")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0,
                   help="train on the first N training images (0: all)")
    p.add_argument("--eval", choices=["test", "validation", "none"], default="test")
    p.add_argument("--init", default="",
                   help="start from this model (network2.py JSON) instead of random weights")
    p.add_argument("--no-shuffle", action="store_true",
                   help="mini-batches in file order (gputrain's flag; for comparing parameters)")
    p.add_argument("--save", default="",
                   help="write the trained model here (network2.py JSON)")
    if extra is not None:
        extra(p)
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.sizes[0] != 784 or args.sizes[-1] != 10 or len(args.sizes) < 2:
        p.error("--sizes must start with 784 and end with 10")
    if args.epochs < 1 or args.batch_size < 1 or args.train_limit < 0:
        p.error("--epochs and --batch-size must be at least 1, --train-limit at least 0")
    return args


def _read_idx(path, offset):
    # The header is checked only for its magic number: the files are the
    # ones gputrain fetched and verified against their SHA-256.
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (2049, 2051):
        sys.exit("%s: not an IDX label or image file (magic %d)" % (path, magic))
    return np.frombuffer(raw, dtype=np.uint8, offset=offset)


def load(data_dir, dtype):
    """Return (train_x, train_y, valid_x, valid_y, test_x, test_y).

    Images are n×784 arrays of p/255 in ``dtype``; labels are uint8 digits.
    ``data_dir`` may also be the book's mnist.pkl.gz, read as mnist_loader
    reads it: its own split, its float32 pixels as they are (widened
    exactly in float64).
    """
    if data_dir.endswith(".pkl.gz"):
        import pickle
        with gzip.open(data_dir, "rb") as f:
            (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.load(f, encoding="latin1")
        return (tr_x.astype(dtype), tr_y, va_x.astype(dtype), va_y, te_x.astype(dtype), te_y)
    def images(name):
        return _read_idx(os.path.join(data_dir, name), 16).reshape(-1, 784)

    def labels(name):
        return _read_idx(os.path.join(data_dir, name), 8)

    tr_x = images("train-images-idx3-ubyte.gz")
    tr_y = labels("train-labels-idx1-ubyte.gz")
    te_x = images("t10k-images-idx3-ubyte.gz")
    te_y = labels("t10k-labels-idx1-ubyte.gz")
    scale = np.dtype(dtype).type(255)
    tr_x = tr_x.astype(dtype) / scale
    te_x = te_x.astype(dtype) / scale
    split = len(tr_y) - VALIDATION
    return (tr_x[:split], tr_y[:split], tr_x[split:], tr_y[split:], te_x, te_y)


def select(args, data):
    """Apply --train-limit and --eval: (train_x, train_y, eval_x, eval_y),
    the evaluation pair being None for --eval none."""
    tr_x, tr_y, va_x, va_y, te_x, te_y = data
    if args.train_limit:
        if args.train_limit > len(tr_y):
            sys.exit("--train-limit %d: the training set has %d images"
                     % (args.train_limit, len(tr_y)))
        tr_x, tr_y = tr_x[:args.train_limit], tr_y[:args.train_limit]
    ev = {"test": (te_x, te_y), "validation": (va_x, va_y), "none": (None, None)}
    return (tr_x, tr_y) + ev[args.eval]


def load_model(path, sizes):
    """The weights (out×in) and biases (out×1) of a network2.py JSON model,
    as float64 arrays; gputrain-bench writes one so that every peer starts
    from the same parameters."""
    with open(path) as f:
        model = json.load(f)
    if model["sizes"] != sizes:
        sys.exit("--init %s: sizes %s differ from --sizes %s" % (path, model["sizes"], sizes))
    weights = [np.array(w, dtype=np.float64) for w in model["weights"]]
    biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in model["biases"]]
    return weights, biases


def save_model(path, sizes, weights, biases, cost="QuadraticCost"):
    """Write weights (out×in) and biases (out values) as network2.py JSON,
    the format --init reads, through a temporary file and a rename; cost
    is network2's name of the cost trained with."""
    model = {"sizes": sizes,
             "weights": [np.asarray(w, dtype=np.float64).tolist() for w in weights],
             "biases": [np.asarray(b, dtype=np.float64).reshape(-1, 1).tolist() for b in biases],
             "cost": cost}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(model, f)
    os.replace(tmp, path)


def one_hot(labels, dtype):
    """n×10 unit rows, the book's vectorized_result for all labels at once."""
    y = np.zeros((len(labels), 10), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


def emit(epoch, correct, total, seconds, **extra):
    """Print one epoch's JSON line and flush it, so the driver reads it now."""
    rec = {"epoch": epoch, "correct": int(correct), "total": int(total),
           "accuracy": (correct / total) if total else 0.0, "seconds": seconds}
    rec.update(extra)
    print(json.dumps(rec), flush=True)
