"""Writes mnist/testdata/mnist-small.pkl.gz: the first 100 + 50 training
images of MNIST and the first 50 test images, as the book's mnist_loader
file holds them (float32 pixels p/256 in [0, 1), int64 labels), pickled by
numpy and Python 3's pickle at protocol 2 and gzipped.

    python3 mnist/testdata/mkpickle.py /path/to/mnist-idx-folder
"""
import gzip
import pickle
import sys

import numpy as np


def idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


d = sys.argv[1]
x = idx(d + "/train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
y = idx(d + "/train-labels-idx1-ubyte.gz", 8)
tx = idx(d + "/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
ty = idx(d + "/t10k-labels-idx1-ubyte.gz", 8)


def pair(px, lb):
    return (px.astype(np.float32) / np.float32(256), lb.astype(np.int64))


data = (pair(x[:100], y[:100]), pair(x[100:150], y[100:150]), pair(tx[:50], ty[:50]))
with gzip.GzipFile("mnist/testdata/mnist-small.pkl.gz", "wb", mtime=0) as f:
    pickle.dump(data, f, protocol=2)
