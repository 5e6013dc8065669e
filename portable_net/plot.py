"""Pictures: the spiral, a model's decision regions over the plane, the loss curve, a
regression's predicted against true values (the command's ``--plot``).

matplotlib (``pip install 'portable-net[plot]'``) is imported only when a picture is drawn.
Arrays of any backend are accepted: the predictions are computed in the model's library
and device, then everything is moved to the host for drawing.  With ``ax=None`` a new
pyplot figure is made (headless machines get matplotlib's Agg backend automatically; a
backend the user chose is left alone); pass ``ax`` to draw into your own figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import array_api_compat
import numpy as np

from ._backend import from_host, namespace_and_device, to_host

__all__ = ["plot_data", "plot_decision_regions", "plot_loss"]

INSTALL_HINT = "pip install 'portable-net[plot]'"


def _matplotlib() -> Any:
    """The matplotlib module, or an ImportError that says how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            f"drawing pictures needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from None
    return matplotlib


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """``ax`` itself, or the axes of a new pyplot figure."""
    _matplotlib()
    if ax is not None:
        if not hasattr(ax, "scatter") or not hasattr(ax, "figure"):
            raise TypeError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _colors(n_classes: int) -> np.ndarray:
    """One RGB colour per class (n_classes, 3): tab10, then tab20, then a spread of turbo."""
    from matplotlib import colormaps

    if n_classes <= 10:
        rgba = colormaps["tab10"](np.arange(n_classes))
    elif n_classes <= 20:
        rgba = colormaps["tab20"](np.arange(n_classes))
    else:
        rgba = colormaps["turbo"](np.linspace(0.0, 1.0, n_classes))
    return cast(np.ndarray, rgba[:, :3])


#: how much of a class colour a region gets (the rest is white), so the points stand out
REGION_TINT = 0.35


def _region_colors(n_classes: int) -> np.ndarray:
    """The RGB colours (n_classes, 3) the regions of each class are painted in."""
    _matplotlib()
    return REGION_TINT * _colors(n_classes) + (1.0 - REGION_TINT)


def _host_points(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """X (N, 2) and y (N,) as NumPy arrays, checked."""
    if not array_api_compat.is_array_api_obj(X) or isinstance(X, (int, float)):
        raise TypeError(f"X must be an array, not {type(X).__name__}")
    Xh = to_host(X)
    if Xh.ndim != 2 or Xh.shape[1] != 2 or Xh.shape[0] == 0:
        raise ValueError(
            f"X must have shape (n_samples, 2) to be drawn in the plane, got {tuple(X.shape)}"
        )
    if Xh.dtype.kind not in "fiu" or not np.all(np.isfinite(Xh)):
        raise ValueError("X must hold finite real numbers")
    if y is None:
        return Xh.astype(np.float64), None
    if not array_api_compat.is_array_api_obj(y) or isinstance(y, (int, float)):
        raise TypeError(f"y must be an array or None, not {type(y).__name__}")
    yh = to_host(y)
    if yh.ndim != 1 or yh.shape[0] != Xh.shape[0]:
        raise ValueError(
            f"y must be 1-D with one label per row of X: X has shape {tuple(X.shape)}, "
            f"y has shape {tuple(y.shape)}"
        )
    if yh.dtype.kind not in "iu" or yh.min() < 0:
        raise ValueError("y must hold non-negative integer class labels")
    return Xh.astype(np.float64), yh.astype(np.int64)


def _scatter(ax: Any, Xh: np.ndarray, yh: np.ndarray | None, n_classes: int) -> None:
    colors = (
        np.full((Xh.shape[0], 3), 0.3) if yh is None else _colors(max(n_classes, 1))[yh]
    )  # (N, 3)
    ax.scatter(Xh[:, 0], Xh[:, 1], c=colors, s=18, edgecolors="black", linewidths=0.5, zorder=3)


def plot_data(X: Any, y: Any = None, ax: Any = None) -> Any:
    """Draw 2-D points coloured by class: the raw spiral.

    Parameters
    ----------
    X : array, shape (N, 2)
        Points of any supported library and device.
    y : array of integers, shape (N,), or None
        Class labels (>= 0) colouring the points; None draws them all grey.
    ax : matplotlib Axes or None
        Where to draw; None makes a new pyplot figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> ax = pn.plot_data(X, y)
    >>> ax.get_title()
    'the data: 300 points, 3 classes'
    """
    ax = _axes(ax, (5.0, 5.0))
    Xh, yh = _host_points(X, y)
    _scatter(ax, Xh, yh, 0 if yh is None else int(yh.max()) + 1)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.set_title(
        f"the data: {Xh.shape[0]} points" + ("" if yh is None else f", {yh.max() + 1} classes")
    )
    return ax


def plot_decision_regions(
    params: Mapping[str, Any],
    X: Any,
    y: Any = None,
    ax: Any = None,
    *,
    resolution: int = 300,
    margin: float = 0.25,
    activation: str = "relu",
    output: str = "softmax",
) -> Any:
    """Paint the plane by the class a model predicts there, and draw the points over it.

    The model is evaluated (as :func:`predict` decides: the largest softmax output, or one
    logistic output above 0.5 for two classes) on a ``resolution x resolution`` grid over the
    points' bounding box widened by ``margin`` of its size on each side, in the library and
    on the device of ``params``; the predicted classes are moved to the host and drawn.
    Regions are light tints of the class colours, points the full colours.

    Parameters
    ----------
    params : dict of arrays
        A model with 2 inputs (``W1`` of shape ``(2, H)``), of X's library and device.
    X : array, shape (N, 2)
        The points (the training data), which also set the extent of the picture.
    y : array of integers, shape (N,), or None
        Their labels (None: grey points).
    ax : matplotlib Axes or None
        Where to draw; None makes a new pyplot figure.
    resolution : int
        Grid points per axis (>= 2).
    margin : float
        Extra room around the points, as a fraction of their extent (>= 0).
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
        The model's hidden activation.
    output : {"softmax", "logistic"}, default "softmax"
        Its output layer: one softmax output per class, or one logistic output for two
        classes (a two-class :class:`Classifier`'s).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import portable_net as pn
    >>> X, y = pn.make_spiral(100, 3, seed=0)
    >>> params, history = pn.train(pn.init_params([2, 3]), X, y, steps=200)
    >>> ax = pn.plot_decision_regions(params, X, y, resolution=100)
    >>> ax.get_title()
    'decision regions'
    """
    from .model import decided_labels

    if output not in ("softmax", "logistic"):
        raise ValueError(f"output must be 'softmax' or 'logistic', got {output!r}")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    if not isinstance(params, Mapping) or "W1" not in params:
        raise TypeError("params must be a dict of arrays W1, b1, ... (see init_params)")
    arrays = {"X": X, **{f"params[{k!r}]": v for k, v in params.items()}}
    xp, device = namespace_and_device(arrays)
    if params["W1"].ndim != 2 or params["W1"].shape[0] != 2:
        raise ValueError(
            f"decision regions are drawn for models with 2 inputs; W1 has shape "
            f"{tuple(params['W1'].shape)}"
        )
    Xh, yh = _host_points(X, y)
    ax = _axes(ax, (5.0, 5.0))

    lo, hi = Xh.min(axis=0), Xh.max(axis=0)  # (2,), (2,)
    pad = margin * np.maximum(hi - lo, 1e-9)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(gx, gy)  # (R, R) each
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (R*R, 2)
    grid_xp = from_host(xp, grid, params["W1"].dtype, device)
    decided = decided_labels(params, grid_xp, None, activation=activation, output=output)
    labels = to_host(decided).reshape(xx.shape)  # (R, R) class indices

    n_outputs = int(params[f"W{len(params) // 2}"].shape[1])
    n_classes = 2 if output == "logistic" else n_outputs
    rgb = _region_colors(n_classes)[labels]  # (R, R, 3)
    dx, dy = (gx[1] - gx[0]) / 2.0, (gy[1] - gy[0]) / 2.0  # cells centred on grid points
    extent = (gx[0] - dx, gx[-1] + dx, gy[0] - dy, gy[-1] + dy)
    ax.imshow(
        rgb,
        origin="lower",
        extent=extent,
        interpolation="nearest",
        aspect="equal",
        zorder=1,
    )
    _scatter(ax, Xh, yh, n_classes)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("$x_0$")
    ax.set_ylabel("$x_1$")
    ax.set_title("decision regions")
    return ax


def plot_loss(history: Any, ax: Any = None) -> Any:
    """Draw the logged loss against the step, on a log scale.

    The held-out loss is drawn beside it, when the history has one (``train(...,
    validation=...)``).

    Parameters
    ----------
    history : History or mapping
        What :func:`train` returned, or a dict with ``steps`` and ``loss`` lists (as
        :func:`load` gives back the saved history), and optionally ``val_loss``.
    ax : matplotlib Axes or None
        Where to draw; None makes a new pyplot figure.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.

    Examples
    --------
    >>> import portable_net as pn
    >>> ax = pn.plot_loss({"steps": [0, 1000, 2000], "loss": [1.1, 0.36, 0.26]})
    >>> ax.get_yscale()
    'log'
    """
    if isinstance(history, Mapping):
        steps, loss = history.get("steps"), history.get("loss")
        held_out = history.get("val_loss")
    else:
        steps, loss = getattr(history, "steps", None), getattr(history, "loss", None)
        held_out = getattr(history, "val_loss", None)
    if steps is None or loss is None:
        raise TypeError(
            f"history must be a History or a dict with 'steps' and 'loss', "
            f"not {type(history).__name__}"
        )
    try:
        steps_h = np.asarray(steps, dtype=np.float64)
        loss_h = np.asarray(loss, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("history.steps and history.loss must be lists of numbers") from None
    if steps_h.ndim != 1 or loss_h.shape != steps_h.shape:
        raise ValueError(
            f"history.steps and history.loss must be lists of one length, got "
            f"{steps_h.shape} and {loss_h.shape}"
        )
    if steps_h.size == 0:
        raise ValueError("history holds no logged loss (train at least one step)")
    if not np.all(np.isfinite(loss_h)) or np.any(loss_h <= 0):
        raise ValueError("history.loss must hold finite positive values to be drawn on a log scale")
    ax = _axes(ax, (5.0, 4.0))
    if held_out is not None and len(held_out) != len(loss_h):
        held_out = None
    _curve_panel(ax, steps_h, loss_h, "step", held_out_loss=held_out or None)
    return ax


def _curve_panel(ax: Any, x: Any, loss: Any, xlabel: str, *, held_out_loss: Any = None,
                 score: Any = None, score_name: str = "held-out score") -> None:  # fmt: skip
    """The training loss against ``x`` (steps or epochs), on a log scale where it is
    positive; the held-out loss beside it, and a held-out score (accuracy, R^2) on an axis of
    its own at the right."""
    marker = {"marker": "o", "markersize": 3} if len(x) <= 30 else {}
    ax.plot(x, loss, label="training loss", **marker)
    if held_out_loss is not None:
        ax.plot(x, np.asarray(held_out_loss, dtype=np.float64), label="held-out loss", **marker)
    if np.all(np.asarray(loss) > 0):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    ax.set_title("training loss" if held_out_loss is None and score is None else "loss")
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if score is not None:
        right = ax.twinx()
        right.plot(x[: len(score)], score, color="C2", label=score_name, **marker)
        right.set_ylabel(score_name)
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    if len(handles) > 1:
        ax.legend(handles, labels, loc="best", fontsize="small")


def _predictions_panel(ax: Any, true: Any, predicted: Any, rows: str, target: str) -> None:
    """A regression's predicted values against the true ones, and the line where they are
    equal."""
    true, predicted = np.asarray(true, np.float64), np.asarray(predicted, np.float64)
    ax.scatter(true, predicted, s=12, alpha=0.7, edgecolors="none", zorder=3)
    both = np.concatenate([true, predicted])
    both = both[np.isfinite(both)]
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, zorder=2, label="predicted = true")
    ax.set_xlabel(f"true {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title(f"predicted against true ({rows} rows)")
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, alpha=0.3)


def _figure(figsize: tuple[float, float], ncols: int) -> tuple[Any, Any]:
    """A Figure drawn by Agg, outside pyplot: the global backend is never touched."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def training_figure(
    params: Mapping[str, Any],
    X: Any,
    y: Any,
    history: Any,
    *,
    title: str | None = None,
    activation: str = "relu",
) -> Any:
    """The figure of ``portable-net train --plot`` on the spiral: decision regions, and the
    loss beside it.

    Not exported from ``portable_net``: ``plot_decision_regions`` and ``plot_loss`` are the
    public way to draw into your own figure.

    Drawn by Agg outside pyplot (nothing is shown, the user's backend is untouched); save
    it with ``fig.savefig(path)``.
    """
    held_out = getattr(history, "val_loss", None)
    curve = {"x": list(history.steps), "xlabel": "step", "loss": list(history.loss),
             "held_out_loss": held_out or None}  # fmt: skip
    regions = {"params": params, "X": X, "y": y, "activation": activation, "output": "softmax"}
    return run_figure(curve, regions=regions, title=title)


def run_figure(
    curve: Mapping[str, Any],
    *,
    regions: Mapping[str, Any] | None = None,
    predictions: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Any:
    """The figure of ``portable-net train --plot``, for any data: the loss ``curve`` always
    (``x``, ``xlabel``, ``loss``, and optionally ``held_out_loss``, ``score`` and
    ``score_name``), beside the decision ``regions`` of a model of two inputs
    (:func:`plot_decision_regions`' ``params``, ``X``, ``y``, ``activation``, ``output``,
    and ``labels``: the axes' names) or a regression's ``predictions`` (``true``,
    ``predicted``, ``rows``, ``target``). Drawn by Agg outside pyplot."""
    panels = 1 + (regions is not None) + (predictions is not None)
    fig, axes = _figure((5.0 * panels, 4.6), panels)
    at = 0
    if regions is not None:
        plot_decision_regions(regions["params"], regions["X"], regions["y"], ax=axes[at],
                              activation=regions.get("activation", "relu"),
                              output=regions.get("output", "softmax"))  # fmt: skip
        labels = regions.get("labels")
        if labels:
            axes[at].set_xlabel(labels[0])
            axes[at].set_ylabel(labels[1])
        at += 1
    if predictions is not None:
        _predictions_panel(axes[at], predictions["true"], predictions["predicted"],
                           predictions.get("rows", "training"), predictions.get("target", ""))  # fmt: skip
        at += 1
    loss = np.asarray(curve["loss"], dtype=np.float64)
    x = np.asarray(curve["x"], dtype=np.float64)
    _curve_panel(axes[at], x, loss, curve.get("xlabel", "step"),
                 held_out_loss=curve.get("held_out_loss"), score=curve.get("score"),
                 score_name=curve.get("score_name", "held-out score"))  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig


def data_figure(X: Any, y: Any = None, *, title: str | None = None) -> Any:
    """The figure of ``portable-net data --plot``: the raw points, drawn by Agg."""
    fig, (ax,) = _figure((5.0, 5.0), 1)
    plot_data(X, y, ax=ax)
    if title:
        ax.set_title(title)
    return fig


# the names these had before the command line used them from outside this module
_training_figure = training_figure
_data_figure = data_figure
