"""Torch tensors that hold no usable data (on the meta device) are refused by name before
any work, not by torch's internal errors; so are sparse ones where they are not taken (the
functional API, y; the estimators take a sparse X: tests/test_sparse.py)."""

from __future__ import annotations

import warnings

import pytest

import portable_net as pn

torch = pytest.importorskip("torch")


@pytest.fixture
def data():
    X, y = pn.make_spiral(10, 3, seed=0)
    params = pn.init_params([2, 5, 3], xp="torch", seed=0)
    return params, torch.asarray(X), torch.asarray(y)


def _sparse(x, layout):
    if layout == "coo":
        return x.to_sparse()
    with warnings.catch_warnings():  # torch's "CSR support is in beta" note
        warnings.simplefilter("ignore", UserWarning)
        return x.to_sparse_csr()


@pytest.mark.parametrize("where", ["X", "y", "W1"])
def test_meta_tensors_are_a_value_error_naming_the_argument(data, where):
    params, X, y = data
    if where == "X":
        X = X.to("meta")
    elif where == "y":
        y = y.to("meta")
    else:
        params = {k: v.to("meta") for k, v in params.items()}
    name = {"X": "X", "y": "y", "W1": "params['W1']"}[where]
    with pytest.raises(ValueError, match=f"{name[:6]}.* 'meta' device, which holds no data"):
        pn.train(params, X, y, steps=2)
    if where != "y":
        with pytest.raises(ValueError, match="'meta' device"):
            pn.predict(params, X)


def test_every_tensor_on_meta_is_refused_too(data):
    params, X, y = data
    params = {k: v.to("meta") for k, v in params.items()}
    with pytest.raises(ValueError, match="'meta' device"):
        pn.train(params, X.to("meta"), y.to("meta"), steps=2)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_tensors_are_a_type_error_naming_the_argument(data, layout):
    params, X, y = data
    with pytest.raises(TypeError, match=r"X is a sparse torch tensor .*X\.to_dense\(\)"):
        pn.train(params, _sparse(X, layout), y, steps=2)
    with pytest.raises(TypeError, match="X is a sparse torch tensor"):
        pn.predict(params, _sparse(X, layout))
    W1 = params["W1"]
    with pytest.raises(TypeError, match=r"params\['W1'\] is a sparse torch tensor"):
        pn.predict({**params, "W1": _sparse(W1, layout)}, X)


def test_the_classifier_refuses_them_by_name(data):
    _, X, y = data
    clf = pn.Classifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="X is a torch tensor on the 'meta' device"):
        clf.fit(X.to("meta"), y)
    with pytest.raises(ValueError, match="y is a torch tensor on the 'meta' device"):
        clf.fit(X, y.to("meta"))
    with pytest.raises(TypeError, match="does not accept a sparse y"):
        clf.fit(X, y.to_sparse())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs: not converged
        clf.fit(X, y)
    with pytest.raises(ValueError, match="X is a torch tensor on the 'meta' device"):
        clf.predict(X.to("meta"))
