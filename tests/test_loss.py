import numpy as np
import pytest

import portable_net as pn
from tests._helpers import assert_on, to_numpy


def naive_reference(scores, y):
    """The case study's softmax loss and gradient, in float64 NumPy (small scores only)."""
    n = scores.shape[0]
    exp = np.exp(scores)
    probs = exp / exp.sum(axis=1, keepdims=True)
    loss = -np.log(probs[range(n), y]).sum() / n
    dscores = probs.copy()
    dscores[range(n), y] -= 1
    return loss, dscores / n


def test_matches_the_case_study_formula():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((50, 4)) * 3
    y = rng.integers(0, 4, 50)
    loss, dscores = pn.softmax_cross_entropy(scores, y)
    ref_loss, ref_d = naive_reference(scores, y)
    assert loss.shape == ()
    np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-13)
    np.testing.assert_allclose(dscores, ref_d, rtol=1e-12, atol=1e-16)


def test_gradient_matches_centred_differences():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((6, 3))
    y = rng.integers(0, 3, 6)
    _, dscores = pn.softmax_cross_entropy(scores, y)
    h = 1e-6
    numeric = np.zeros_like(scores)
    for idx in np.ndindex(*scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (
            float(pn.softmax_cross_entropy(plus, y)[0])
            - float(pn.softmax_cross_entropy(minus, y)[0])
        ) / (2 * h)
    np.testing.assert_allclose(dscores, numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("big", [1e4, -1e4, 7e5])
def test_stable_for_large_scores(big):
    scores = np.array([[big, 0.0, -3.0], [0.0, big, big - 2.0]])
    y = np.array([1, 2])
    loss, dscores = pn.softmax_cross_entropy(scores, y)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(dscores))
    # -log p[y] = logsumexp(row) - row[y], with NumPy's own stable log-add-exp
    lse = np.logaddexp.reduce(scores, axis=1)
    np.testing.assert_allclose(float(loss), np.mean(lse - scores[[0, 1], y]), rtol=1e-12)
    probs = np.exp(scores - lse[:, None])
    probs[[0, 1], y] -= 1
    np.testing.assert_allclose(dscores, probs / 2, atol=1e-15)


def test_every_backend_gives_numpy_s_numbers(xp, device):
    rng = np.random.default_rng(2)
    scores_np = rng.standard_normal((40, 5)) * 10
    y_np = rng.integers(0, 5, 40)
    ref_loss, ref_d = pn.softmax_cross_entropy(scores_np, y_np)
    scores = xp.asarray(scores_np, device=device)
    y = xp.asarray(y_np, device=device)
    loss, dscores = pn.softmax_cross_entropy(scores, y)
    assert_on(loss, xp, device)
    assert_on(dscores, xp, device)
    np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-13)
    np.testing.assert_allclose(to_numpy(dscores), ref_d, rtol=1e-12, atol=1e-17)
    np.testing.assert_array_equal(to_numpy(scores), scores_np)  # input untouched


def test_float32_stays_float32(xp, device):
    scores = xp.asarray([[1.0, 2.0], [3.0, 1e4]], dtype=xp.float32, device=device)
    y = xp.asarray([0, 1], device=device)
    loss, dscores = pn.softmax_cross_entropy(scores, y)
    assert loss.dtype == xp.float32 and dscores.dtype == xp.float32
    np.testing.assert_allclose(float(loss), (np.log1p(np.e) - 0.0) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    ("scores", "y", "error", "match"),
    [
        (np.zeros(3), np.zeros(3, int), ValueError, "scores must be a non-empty 2-D"),
        (np.zeros((0, 3)), np.zeros(0, int), ValueError, "scores must be a non-empty 2-D"),
        (np.zeros((2, 3), int), np.zeros(2, int), TypeError, "scores must be real floating"),
        (np.array([[0.0, np.nan]]), np.zeros(1, int), ValueError, "NaN or infinite"),
        (np.zeros((2, 3)), np.zeros(2), TypeError, "integer class labels"),
        (np.zeros((2, 3)), np.array([0, 3]), ValueError, r"labels in \[0, 3\).*from 0 to 3"),
        (np.zeros((2, 3)), np.array([-1, 0]), ValueError, r"labels in \[0, 3\)"),
        (np.zeros((2, 3)), np.zeros(3, int), ValueError, "y has 3 labels but X has 2 rows"),
        (np.zeros((2, 3)), [0, 1], TypeError, "y must be an array"),
    ],
)
def test_bad_input(scores, y, error, match):
    with pytest.raises(error, match=match):
        pn.softmax_cross_entropy(scores, y)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_padded_weighted_batch_steps_as_the_batch_itself(xp, device, optimizer):
    """The step's ``weights`` (what a compiled loop uses to run a smaller batch at a fixed
    width): padding columns of weight 0 with zero one-hot columns change nothing, neither
    the loss nor the update, on every backend."""
    from portable_net import network
    from portable_net.engines.fast import arranged
    from portable_net.step import StepSettings, make_step

    X_np, y_np = pn.make_spiral(9, 3, seed=4)  # 27 examples: 11 real, 16 of padding
    p_np = pn.init_params([2, 7, 3], seed=4, scale=0.5)
    opt = pn.optim.SGD(0.5, momentum=0.9) if optimizer == "sgd" else pn.optim.Adam(0.05)
    onehot_np = np.eye(3)[y_np].T  # (K, N)

    def run(cols, weights):
        X = xp.asarray(X_np[cols], device=device)
        packed = network.pack(xp, {k: xp.asarray(v, device=device) for k, v in p_np.items()}, 2)
        settings = StepSettings(2, opt.learning_rate, 1e-3, getattr(opt, "momentum", 0.0),
                                None, opt)  # fmt: skip
        step = make_step(xp, packed, arranged(xp, settings))
        Xt1 = network.inputs_with_ones(xp, X)
        onehot = xp.asarray(onehot_np[:, cols], device=device)
        state, losses = opt.init(xp, packed), []
        w = None if weights is None else xp.asarray(weights[None, :], device=device)
        if w is not None:
            onehot = onehot * w
        for _ in range(3):
            packed, state, loss = step(packed, state, Xt1, onehot, True, None, w)
            losses.append(float(loss))
        return [to_numpy(p) for p in packed], losses

    real = np.arange(16, 27)
    padded = np.arange(0, 27)  # the real batch is its last 11 columns
    weights = (padded >= 16).astype(np.float64)
    ref, ref_losses = run(real, None)
    out, losses = run(padded, weights)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def _numpy_output_loss(name, scores, targets, weights):
    """An independent reference (float64 NumPy, the (K, B) layout): the weighted sum of
    each column's loss, and the gradient of that sum (unscaled) wrt the scores."""
    if name == "softmax":
        p = np.exp(scores - scores.max(axis=0)) / np.exp(scores - scores.max(axis=0)).sum(axis=0)
        col = -np.sum(targets * np.log(p), axis=0)
    elif name == "logistic":
        p = 1.0 / (1.0 + np.exp(-scores))
        col = -np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=0)
    else:
        p = scores
        col = 0.5 * np.mean((scores - targets) ** 2, axis=0)
    return float(np.sum(col * weights)), (p - targets) * weights


@pytest.mark.parametrize("name", ["softmax", "logistic", "squared"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_each_output_loss_on_every_backend(xp, device, name, weighted):
    """Each output layer's loss and ``scale * (output - target)``, against NumPy's formulas
    (and, for one output or softmax, centred differences of the loss), weighted or not."""
    from portable_net.loss import output_loss

    if xp.float64 is None:
        pytest.skip("float64 needed")
    rng = np.random.default_rng(7)
    k, b = (3, 8) if name != "logistic" else (1, 8)
    scores = 2.0 * rng.standard_normal((k, b))
    if name == "softmax":
        targets = np.eye(k)[rng.integers(0, k, b)].T
    elif name == "logistic":
        targets = rng.integers(0, 2, (k, b)).astype(np.float64)
    else:
        targets = rng.standard_normal((k, b))
    w = rng.uniform(0.2, 3.0, (1, b)) if weighted else np.ones((1, b))
    loss_of = output_loss(name)

    def ours(s):
        return loss_of(
            xp,
            xp.asarray(s, copy=True, device=device),
            xp.asarray(targets, device=device),
            xp.asarray(w / 5.0, device=device),
            need_loss=True,
            weights=xp.asarray(w, device=device) if weighted else None,
        )

    loss, d = ours(scores)
    assert_on(d, xp, device)
    ref_loss, ref_d = _numpy_output_loss(name, scores, targets, w)
    np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(d), ref_d / 5.0, rtol=1e-12, atol=1e-15)
    if name == "squared":  # scikit-learn's gradient is the sum's over outputs: K x the mean's
        ref_d = ref_d / k
    h = 1e-6
    numeric = np.zeros_like(scores)
    for idx in np.ndindex(*scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (float(ours(plus)[0]) - float(ours(minus)[0])) / (2 * h)
    np.testing.assert_allclose(ref_d, numeric, rtol=1e-6, atol=1e-9)


def test_the_logistic_loss_is_stable_for_large_scores():
    from portable_net.loss import logistic_xent

    scores = np.array([[800.0, -800.0, 40.0, -40.0]])
    targets = np.array([[1.0, 0.0, 0.0, 1.0]])
    loss, d = logistic_xent(np, scores.copy(), targets, 1.0, need_loss=True)
    # softplus(z) - t z: 0, 0, 40 + log1p(e^-40), 40 + log1p(e^-40)
    np.testing.assert_allclose(float(loss), 2 * (40.0 + np.log1p(np.exp(-40.0))), rtol=1e-15)
    expit = pytest.importorskip("scipy.special").expit
    np.testing.assert_allclose(d, expit(scores) - targets, atol=1e-17)
