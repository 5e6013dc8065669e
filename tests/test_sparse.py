"""Sparse inputs, side by side with MLPClassifier and MLPRegressor on the same sparse data:
scipy.sparse CSR and CSC, arrays and matrices, with every solver (the same loss curves and
weights as scikit-learn's, and as our own fit of the dense array); never densified whole;
torch's sparse tensors give NumPy's numbers; other libraries' are a clear error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import portable_net as pn

from ._helpers import to_numpy

sparse = pytest.importorskip("scipy.sparse")
sklearn_nn = pytest.importorskip("sklearn.neural_network")

RNG = np.random.RandomState(0)
DENSE = RNG.rand(90, 40) * (RNG.rand(90, 40) < 0.15)  # mostly zeros, an empty column or so
LABELS = RNG.randint(0, 3, 90)
TARGETS = DENSE @ RNG.randn(40) + 0.1 * RNG.randn(90)
FORMATS = {
    "csr_matrix": sparse.csr_matrix,
    "csc_matrix": sparse.csc_matrix,
    "csr_array": sparse.csr_array,
    "csc_array": sparse.csc_array,
}


def _fit(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both reach max_iter
        return est.fit(X, y, **kwargs)


def _assert_same(ours, theirs, atol):
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=atol)
    assert abs(ours.loss_ - theirs.loss_) <= atol
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(to_numpy(mine), to_numpy(ref), rtol=0, atol=atol)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sparse_fits_are_mlpclassifier_s_and_the_dense_fit_s(fmt, solver):
    X = FORMATS[fmt](DENSE)
    kw = dict(hidden_layer_sizes=(7,), solver=solver, max_iter=15, batch_size=32,
              shuffle=False, learning_rate_init=0.05, random_state=0)  # fmt: skip
    ours = _fit(pn.Classifier(**kw), X, LABELS)
    _assert_same(ours, _fit(sklearn_nn.MLPClassifier(**kw), X, LABELS), 1e-10)
    _assert_same(ours, _fit(pn.Classifier(**kw), DENSE, LABELS), 1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ours.predict_proba(DENSE), atol=1e-13)
    np.testing.assert_array_equal(ours.predict(X), ours.predict(DENSE))
    assert ours.score(X, LABELS) == ours.score(DENSE, LABELS)
    reg = _fit(pn.Regressor(**kw), X, TARGETS)
    _assert_same(reg, _fit(sklearn_nn.MLPRegressor(**kw), X, TARGETS), 1e-10)
    np.testing.assert_allclose(reg.predict(X), reg.predict(DENSE), atol=1e-12)


def test_shuffled_mini_batches_early_stopping_and_sample_weights_are_the_dense_fit_s():
    X = sparse.csr_array(DENSE)
    w = RNG.uniform(0.5, 2.0, 90)
    kw = dict(hidden_layer_sizes=(7,), max_iter=12, batch_size=16, early_stopping=True,
              validation_fraction=0.2, random_state=0, n_iter_no_change=100)  # fmt: skip
    ours = _fit(pn.Classifier(**kw), X, LABELS, sample_weight=w)
    ref = _fit(pn.Classifier(**kw), DENSE, LABELS, sample_weight=w)
    _assert_same(ours, ref, 1e-12)
    assert ours.validation_scores_ == ref.validation_scores_


def test_large_batches_are_summed_block_by_block_as_the_dense_step():
    """A full batch over the block size: the sparse columns are sliced into the same blocks."""
    X = sparse.random(3000, 50, density=0.05, format="csr", random_state=1)
    y = np.asarray(X.sum(axis=1)).ravel() > 1.2
    kw = dict(hidden_layer_sizes=(64,), solver="sgd", batch_size=3000, max_iter=3,
              shuffle=False, random_state=0)  # fmt: skip
    _assert_same(_fit(pn.Classifier(**kw), X, y), _fit(pn.Classifier(**kw), X.toarray(), y), 1e-12)


def test_sparse_input_is_never_densified_whole(monkeypatch):
    """Fitting (every solver) and predicting never make X dense: scipy's densifying methods
    raise here."""
    X = sparse.csr_array(DENSE)

    def refuse(*args, **kwargs):
        raise AssertionError("densified")

    for cls in (sparse.csr_array, sparse.csc_array, sparse.csr_matrix, sparse.csc_matrix):
        for method in ("toarray", "todense", "__array__"):
            if hasattr(cls, method):
                monkeypatch.setattr(cls, method, refuse)
    for solver in ("sgd", "adam", "lbfgs"):
        clf = _fit(pn.Classifier(hidden_layer_sizes=(5,), solver=solver, max_iter=3,
                                 early_stopping=solver != "lbfgs", random_state=0), X, LABELS)  # fmt: skip
        clf.predict(X), clf.predict_proba(X), clf.score(X, LABELS)


def test_torch_sparse_tensors_give_numpy_s_numbers():
    torch = pytest.importorskip("torch")
    kw = dict(hidden_layer_sizes=(7,), max_iter=8, batch_size=32, random_state=0)
    ref = _fit(pn.Classifier(**kw), DENSE, LABELS)
    dense = torch.asarray(DENSE)
    with warnings.catch_warnings():  # torch's "CSR support is in beta" note
        warnings.simplefilter("ignore", UserWarning)
        layouts = [dense.to_sparse(), dense.to_sparse_csr()]
    for X in layouts:
        ours = _fit(pn.Classifier(**kw), X, torch.asarray(LABELS))
        assert isinstance(ours.coefs_[0], torch.Tensor)
        _assert_same(ours, ref, 1e-12)
        np.testing.assert_array_equal(to_numpy(ours.predict(X)), ref.predict(DENSE))
    lbfgs = dict(kw, solver="lbfgs")
    _assert_same(_fit(pn.Classifier(**lbfgs), layouts[0], torch.asarray(LABELS)),
                 _fit(pn.Classifier(**lbfgs), DENSE, LABELS), 1e-10)  # fmt: skip


def test_other_libraries_sparse_arrays_are_a_clear_error():
    jsparse = pytest.importorskip("jax.experimental.sparse")
    import jax.numpy as jnp

    X = jsparse.BCOO.fromdense(jnp.asarray(DENSE))
    with pytest.raises(TypeError, match="scipy.sparse matrices .* or torch sparse tensors"):
        pn.Classifier(max_iter=2).fit(X, LABELS)


def test_a_sparse_y_and_bad_values_are_refused_before_any_work():
    X = sparse.csr_array(DENSE)
    clf = pn.Classifier(max_iter=2)
    with pytest.raises(TypeError, match="does not accept a sparse y"):
        clf.fit(X, sparse.csr_array(LABELS[:, None]))
    bad = X.copy()
    bad.data[0] = np.nan
    theirs = sklearn_nn.MLPClassifier(max_iter=2)
    for est in (clf, theirs):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            est.fit(bad, LABELS)
    assert not hasattr(clf, "coefs_")
    fitted = _fit(pn.Classifier(max_iter=2), X, LABELS)
    with pytest.raises(ValueError, match="X has 39 features, but Classifier is expecting 40"):
        fitted.predict(X[:, :39])


def test_one_hot_encoded_categories_in_a_pipeline_as_mlpclassifier():
    """make_pipeline(OneHotEncoder(), Classifier()): the encoder's sparse output trains."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    categories = RNG.randint(0, 12, (90, 3)).astype(str)
    kw = dict(hidden_layer_sizes=(6,), max_iter=20, shuffle=False, random_state=0)
    ours = _fit(make_pipeline(OneHotEncoder(), pn.Classifier(**kw)), categories, LABELS)
    theirs = _fit(make_pipeline(OneHotEncoder(), sklearn_nn.MLPClassifier(**kw)),
                  categories, LABELS)  # fmt: skip
    np.testing.assert_allclose(ours.predict_proba(categories), theirs.predict_proba(categories),
                               atol=1e-10)  # fmt: skip
    _assert_same(ours[-1], theirs[-1], 1e-10)
