# ruff: noqa: NPY002  (the literal case study uses the legacy global generator)
"""The case study's training loop, transcribed literally in NumPy.

This is the baseline of the benchmarks and the independent reference of the tests: the
CS231n "neural network case study" code as published (naive softmax, integer-array indexing,
in-place updates, boolean-mask assignment), changed only to take its data and initial weights
as arguments, to log into a list instead of printing, and to Python 3.  It is deliberately
*not* written the portable way.
"""

from __future__ import annotations

import numpy as np


def train_softmax(X, y, W, b, *, steps=200, step_size=1e-0, reg=1e-3, log_every=10):
    """The softmax linear classifier. Returns (W, b, [(step, loss), ...])."""
    W, b = W.copy(), b.copy()
    num_examples = X.shape[0]
    log = []
    for i in range(steps):
        # evaluate class scores, [N x K]
        scores = np.dot(X, W) + b

        # compute the class probabilities
        exp_scores = np.exp(scores)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)  # [N x K]

        # compute the loss: average cross-entropy loss and regularization
        corect_logprobs = -np.log(probs[range(num_examples), y])
        data_loss = np.sum(corect_logprobs) / num_examples
        reg_loss = 0.5 * reg * np.sum(W * W)
        loss = data_loss + reg_loss
        if i % log_every == 0:
            log.append((i, loss))

        # compute the gradient on scores
        dscores = probs
        dscores[range(num_examples), y] -= 1
        dscores /= num_examples

        # backpropate the gradient to the parameters (W,b)
        dW = np.dot(X.T, dscores)
        db = np.sum(dscores, axis=0, keepdims=True)

        dW += reg * W  # regularization gradient

        # perform a parameter update
        W += -step_size * dW
        b += -step_size * db
    return W, b, log


def train_two_layer(X, y, W, b, W2, b2, *, steps=10000, step_size=1e-0, reg=1e-3, log_every=1000):
    """The two-layer ReLU net. Returns (W, b, W2, b2, [(step, loss), ...])."""
    W, b, W2, b2 = W.copy(), b.copy(), W2.copy(), b2.copy()
    num_examples = X.shape[0]
    log = []
    for i in range(steps):
        # evaluate class scores, [N x K]
        hidden_layer = np.maximum(0, np.dot(X, W) + b)  # note, ReLU activation
        scores = np.dot(hidden_layer, W2) + b2

        # compute the class probabilities
        exp_scores = np.exp(scores)
        probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)  # [N x K]

        # compute the loss: average cross-entropy loss and regularization
        corect_logprobs = -np.log(probs[range(num_examples), y])
        data_loss = np.sum(corect_logprobs) / num_examples
        reg_loss = 0.5 * reg * np.sum(W * W) + 0.5 * reg * np.sum(W2 * W2)
        loss = data_loss + reg_loss
        if i % log_every == 0:
            log.append((i, loss))

        # compute the gradient on scores
        dscores = probs
        dscores[range(num_examples), y] -= 1
        dscores /= num_examples

        # backpropate the gradient to the parameters
        # first backprop into parameters W2 and b2
        dW2 = np.dot(hidden_layer.T, dscores)
        db2 = np.sum(dscores, axis=0, keepdims=True)
        # next backprop into hidden layer
        dhidden = np.dot(dscores, W2.T)
        # backprop the ReLU non-linearity
        dhidden[hidden_layer <= 0] = 0
        # finally into W,b
        dW = np.dot(X.T, dhidden)
        db = np.sum(dhidden, axis=0, keepdims=True)

        # add regularization gradient contribution
        dW2 += reg * W2
        dW += reg * W

        # perform a parameter update
        W += -step_size * dW
        b += -step_size * db
        W2 += -step_size * dW2
        b2 += -step_size * db2
    return W, b, W2, b2, log


def spiral_legacy(N=100, K=3, D=2, seed=0):
    """The case study's data generation, with NumPy's legacy global generator."""
    np.random.seed(seed)
    X = np.zeros((N * K, D))  # data matrix (each row = single example)
    y = np.zeros(N * K, dtype="uint8")  # class labels
    for j in range(K):
        ix = range(N * j, N * (j + 1))
        r = np.linspace(0.0, 1, N)  # radius
        t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * 0.2  # theta
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def init_legacy(D=2, h=100, K=3):
    """The case study's initialisation (after spiral_legacy, continuing its stream)."""
    W = 0.01 * np.random.randn(D, h)
    b = np.zeros((1, h))
    W2 = 0.01 * np.random.randn(h, K)
    b2 = np.zeros((1, K))
    return W, b, W2, b2
