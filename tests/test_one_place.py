"""Each idea in one place, and the step a learner reads is the step that runs.

Traced runs: the case study's ``train`` and the default ``portable-net train`` reach the first
matrix product five calls deep and through the arguments' checks in at most 140 calls, and
update the weights through ``optim``'s SGD. Read as source (the syntax trees of the
package): each formula is written in one function (softmax, sigmoid, the L2 term, SGD's and
Adam's updates), and each API drives the training loop from one place.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import portable_net as pn
from portable_net.cli import main

PACKAGE = Path(pn.__file__).resolve().parent
#: the most portable_net calls from train's entry to the first matrix product (the run's
#: threads decided at the door among them)
MOST_CALLS = 140


def _trace(run):
    """Run ``run()`` under a profiler; returns (the portable_net frames from the first
    matrix product up to ``training.py:train``, the portable_net calls made from train's
    entry until that product, every portable_net function called by the run)."""
    stack: list[str] = []
    calls: list[str] = []
    called: set[str] = set()
    state = {"in_train": False}

    def where(code):
        return f"{code.co_filename.rsplit('portable_net/', 1)[-1]}:{code.co_name}"

    def profile(frame, event, arg):
        code = frame.f_code
        if (
            event != "call"
            or "portable_net" not in code.co_filename
            or "/tests/" in code.co_filename
        ):
            return
        name = where(code)
        called.add(name)
        if stack:
            return
        if name == "training.py:train":
            state["in_train"] = True
        if not state["in_train"]:
            return
        if name == "layers.py:affine_forward":
            f = frame
            while f is not None:
                if "portable_net" in f.f_code.co_filename:
                    stack.append(where(f.f_code))
                if where(f.f_code) == "training.py:train":
                    break
                f = f.f_back
            return
        calls.append(name)

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return stack, calls, called


def _case_study():
    X, y = pn.make_spiral(100, 3, seed=0)
    params = pn.init_params([2, 100, 3], seed=0)
    return X, y, params


def test_the_case_study_s_train_reaches_the_first_product_five_calls_deep():
    """train -> the loop -> the step -> the forward pass -> the affine layer, on the case
    study's 300 points (two blocks of examples on NumPy), in at most 140 calls."""
    X, y, params = _case_study()
    pn.train(params, X, y, steps=1)  # the run's caches (masks, namespaces) made once
    frames, calls, called = _trace(lambda: pn.train(params, X, y, steps=3))
    assert frames[0] == "layers.py:affine_forward" and frames[-1] == "training.py:train"
    assert frames == [
        "layers.py:affine_forward",
        "network.py:forward",
        "step.py:step",
        "loop.py:run",
        "training.py:train",
    ]
    assert len(calls) <= MOST_CALLS, (len(calls), calls)
    # the update a learner is pointed to: W -= lr * dW, in optim (its pieces)
    assert {
        "optim/__init__.py:update",
        "optim/pieces.py:descend",
        "optim/pieces.py:decay",
    } <= called


def test_the_default_command_runs_the_same_step():
    """``portable-net train``: the same five frames from train, at most 140 calls from its
    entry, the weights updated by optim's SGD."""
    main(["train", "--steps", "1", "--quiet"])  # imports and caches made once

    def command():
        assert main(["train", "--steps", "3", "--log-every", "1", "--quiet"]) == 0

    frames, calls, called = _trace(command)
    assert frames[1:] == ["network.py:forward", "step.py:step", "loop.py:run",
                          "training.py:train"]  # fmt: skip
    assert len(calls) <= MOST_CALLS, (len(calls), calls)
    assert {"optim/__init__.py:update", "optim/pieces.py:descend"} <= called


def test_a_second_call_checks_each_argument_once():
    """train checks X and the parameters once: one pass over the values (check_inputs), not
    one in train and another in the loop."""
    X, y, params = _case_study()
    _, calls, _ = _trace(lambda: pn.train(params, X, y, steps=1))
    assert calls.count("model.py:check_inputs") == 1
    assert calls.count("_validation.py:value_summary") == 1


# --- the source, read --------------------------------------------------------------------


def _functions():
    """(module path relative to the package, qualified function name, its node) of every
    function of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = path.relative_to(PACKAGE).as_posix()

        def visit(node, module, prefix=""):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    name = f"{prefix}{child.name}"
                    out.append((module, name, child))
                    visit(child, module, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, module, f"{prefix}{child.name}.")

        visit(tree, module)
    return out


FUNCTIONS = _functions()


def _own_nodes(fn):
    """The nodes of a function's own body (not of the functions defined in it)."""
    stack, seen = list(fn.body), []
    while stack:
        node = stack.pop()
        seen.append(node)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.append(child)
    return seen


def _calling(attribute):
    """The functions whose own body calls ``<anything>.attribute(...)``."""
    return {
        f"{module}:{name}"
        for module, name, fn in FUNCTIONS
        if any(
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == attribute
            for n in _own_nodes(fn)
        )
    }


def _is_float(node, value):
    return isinstance(node, ast.Constant) and type(node.value) is float and node.value == value


def _holding(match):
    """The functions whose own body holds a node for which ``match(node)`` is true."""
    return {
        f"{module}:{name}"
        for module, name, fn in FUNCTIONS
        if any(match(n) for n in _own_nodes(fn))
    }


def _one_minus(node):
    """``1.0 - something``: a decay factor, or one of Adam's ``1 - beta``."""
    return (
        isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and _is_float(node.left, 1.0)
    )


def _one_over_one_plus(node):
    """``1.0 / (1.0 + something)``: the logistic sigmoid."""
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and _is_float(node.left, 1.0)
        and isinstance(node.right, ast.BinOp)
        and isinstance(node.right.op, ast.Add)
        and _is_float(node.right.left, 1.0)
    )


def test_the_exponentials_are_the_softmax_the_sigmoid_the_softplus_and_the_exp_link():
    """One softmax (its pieces: shift, exp, sum), one sigmoid, the logistic loss's softplus
    and the Poisson loss's exp outputs (its link, which the loss and the predictions
    call): no other function of the package exponentiates (the CUDA kernels are C)."""
    assert _calling("exp") == {
        "loss.py:softmax_parts",
        "layers.py:sigmoid",
        "loss.py:logistic_xent",
        "loss.py:exp_link",
    }
    calls_link = _holding(
        lambda n: isinstance(n, ast.Call) and getattr(n.func, "id", None) == "exp_link"
    )
    assert calls_link == {"loss.py:poisson_deviance", "loss.py:output"}


def test_the_sigmoid_is_written_once():
    # 1 / (1 + exp(-|x|)) and its other half: the stable sigmoid
    assert _holding(_one_over_one_plus) == {"layers.py:sigmoid"}


def test_the_updates_are_written_once_in_optim():
    """SGD's velocity (``v *= momentum``), the L2 term's gradient and decay (``+= c * w``,
    ``1.0 - c``) and Adam's moments and step (``1.0 - beta``, ``sqrt``): optim.pieces
    only; the fused CUDA kernel's copy is C, tested against them."""
    not_updates = {
        "layers.py:logistic_backward",  # the sigmoid's derivative s (1 - s)
        "layers.py:tanh_backward",  # 1 - t^2
        "plot.py:_region_colors",
        "targets.py:r2",  # 1 - SS_res / SS_tot
        "decision.py:output_probabilities",  # P(class 0) = 1 - P(class 1)
    }
    assert _holding(_one_minus) - not_updates == {
        "optim/pieces.py:decay",
        "optim/pieces.py:adam_moments",
        "optim/pieces.py:adam_corrections",
    }
    assert _calling("sqrt") <= {
        "optim/pieces.py:adam_step",
        "optim/pieces.py:adam_corrections",
        # not updates: the weights' initial scale, the regression scores, the features' scale
        "estimators/_epochs.py:_initialize",
        "targets.py:r2",
        "preprocessing.py:Standardizer.fit",
        "cli/_data.py:scale_hint",
    }
    defined = {name.rsplit(".", 1)[-1] for _, name, _ in FUNCTIONS}
    for piece in ("l2_term", "decay", "descend", "velocity_step", "adam_moments", "adam_step"):
        assert [m for m, n, _ in FUNCTIONS if n == piece] == ["optim/pieces.py"], piece
    assert "sgd_update_scaled" not in defined and "adam_update_in_place" not in defined


@pytest.mark.parametrize(
    ("api", "modules"),
    [("the training loop", {"training.py", "estimators/_epochs.py"})],
)
def test_each_api_drives_the_loop_from_one_place(api, modules):
    """train (steps) and the estimators (epochs) make the loop's Trainer; the command line
    calls those two and drives nothing itself."""
    making = {
        module
        for module, _, fn in FUNCTIONS
        for n in _own_nodes(fn)
        if isinstance(n, ast.Call)
        and getattr(n.func, "id", getattr(n.func, "attr", "")) == "Trainer"
    }
    assert making == modules, api
    cli = [p for p in (PACKAGE / "cli").rglob("*.py") if "loop" in p.read_text(encoding="utf-8")]
    assert not [p.name for p in cli if "from ..loop" in p.read_text(encoding="utf-8")]


def test_the_end_of_an_epoch_is_one_function():
    """MLPClassifier's end of an epoch (the no-improvement count, the schedule's rate and its
    answer to a plateau) is schedule.end_epoch, called by train's logged steps and the
    estimators' epochs; nothing else calls trigger_stopping."""
    assert _calling("trigger_stopping") == {"schedule.py:end_epoch"}
    callers = {
        f"{module}:{name}"
        for module, name, fn in FUNCTIONS
        for n in _own_nodes(fn)
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "end_epoch"
    }
    assert callers == {
        "loop.py:_Hooks.after_logged_step",
        "estimators/_epochs.py:_epochs",
        "schedule.py:LearningRateSchedule.end_epoch",
    }


def test_the_code_map_lists_every_module_and_nothing_that_is_not_there():
    """docs/architecture.md names each module of the package (by its path) and no path that
    does not exist."""
    import re

    # the docs beside the tests (the package may be an installed wheel's)
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(portable_net/[\w/]+\.py)`", text))
    short = set(re.findall(r"`(\w+\.py)`", text))  # the command's and the estimators' modules
    for path in PACKAGE.rglob("*.py"):
        relative = f"portable_net/{path.relative_to(PACKAGE).as_posix()}"
        grouped = path.parent.name in ("cli", "estimators") and path.name != "__init__.py"
        assert (path.name in short) if grouped else (relative in named), relative
    assert {p for p in named if not (PACKAGE.parent / p).exists()} == set()
    for module in short:
        assert list(PACKAGE.rglob(module)), module


def test_lbfgs_evaluates_the_network_s_own_loss_and_gradient():
    """solver="lbfgs" drives scipy's optimiser, not the training loop: each evaluation is
    network.backprop (the forward pass, the output layer's loss, the backward pass) with
    the L2 penalty of network.penalty and its gradient by model.with_l2 (optim's l2_term);
    no step and no Trainer."""
    import warnings

    X, y = pn.make_spiral(20, 3, seed=0)
    clf = pn.Classifier(solver="lbfgs", hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three iterations: not converged
        _, _, called = _trace(lambda: clf.fit(X, y))
    assert {
        "estimators/_lbfgs.py:_loss_and_gradient",
        "network.py:backprop",
        "layers.py:affine_forward",
        "loss.py:softmax_xent",
        "network.py:backward",
        "network.py:penalty",
        "model.py:with_l2",
        "optim/pieces.py:l2_term",
    } <= called
    assert not {"step.py:step", "loop.py:run"} & called


def test_sparse_inputs_go_through_the_same_layers_and_their_engine_alone_reads_them():
    """A sparse X trains through the same step and affine layer: only their products are
    the sparse engine's (engines/sparse.py), the one module that names a sparse library."""
    import warnings

    sparse = pytest.importorskip("scipy.sparse")
    X, y = pn.make_spiral(20, 3, seed=0)
    clf = pn.Classifier(hidden_layer_sizes=(5,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, called = _trace(lambda: clf.fit(sparse.csr_array(X), y))
    assert {
        "layers.py:affine_forward",
        "layers.py:affine_backward",
        "step.py:step",
        "engines/sparse.py:__rmatmul__",
    } <= called
    import re

    uses = re.compile(
        r'import scipy\.sparse|"scipy\.sparse"|scipy\.sparse\.\w+\(|torch\.sparse\.\w+\('
    )
    naming = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if uses.search(path.read_text(encoding="utf-8"))
    }
    assert naming == {"engines/sparse.py"}
