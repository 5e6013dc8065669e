"""Pictures: drawn from every backend, the regions' colours are the model's predictions."""

import subprocess
import sys

import numpy as np
import pytest

import portable_net as pn
from tests._helpers import to_numpy

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # this test process draws nothing on screen

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from portable_net.plot import _colors, _data_figure, _region_colors, _training_figure  # noqa: E402


def _trained(xp, device, sizes=(2, 24, 3), steps=300):
    X, y = pn.make_spiral(30, sizes[-1], seed=0, xp=xp, device=device)
    params = pn.init_params(list(sizes), seed=0, scale=0.5, xp=xp, device=device)
    params, history = pn.train(params, X, y, steps=steps, log_every=50)
    return params, history, X, y


def _axes(figsize=(5.0, 5.0)):
    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def test_region_pixels_are_the_predicted_classes(xp, device):
    params, _, X, y = _trained(xp, device)
    before = to_numpy(X)
    fig, ax = _axes()
    assert pn.plot_decision_regions(params, X, y, ax=ax) is ax
    np.testing.assert_array_equal(to_numpy(X), before)  # the caller's arrays are untouched
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float) / 255.0  # (H, W, 3)
    height = image.shape[0]
    palette = _region_colors(3)  # (3, 3)

    # probe points on a lattice inside the axes, away from the drawn training points
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    gx, gy = np.meshgrid(np.linspace(x0, x1, 25)[1:-1], np.linspace(y0, y1, 25)[1:-1])
    probes = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (P, 2)
    to_pixels = ax.transData.transform
    pix = to_pixels(probes)  # (P, 2), origin at the bottom left
    dots = to_pixels(to_numpy(X))
    far = np.min(np.linalg.norm(pix[:, None, :] - dots[None, :, :], axis=2), axis=1) > 8.0
    # the class must not change within 3 pixels (the boundary is drawn at cell precision)
    per_pixel = (x1 - x0) / ax.get_window_extent().width
    offsets = 3.0 * per_pixel * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]])
    pts = (probes[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    classes = to_numpy(pn.predict(params, xp.asarray(pts, device=device))).reshape(-1, 5)
    steady = np.all(classes == classes[:, :1], axis=1)

    checked = 0
    cols = np.rint(pix[:, 0]).astype(int)
    rows = height - 1 - np.rint(pix[:, 1]).astype(int)  # image rows run downwards
    for col, row, cls in zip(cols[far & steady], rows[far & steady], classes[far & steady, 0]):
        colour = image[row, col]
        assert np.abs(colour - palette[cls]).max() < 3 / 255, (col, row, cls, colour)
        checked += 1
    assert checked >= 100
    assert len(set(classes[far & steady, 0].tolist())) == 3  # every region was probed


def test_training_figure_file_from_every_backend(xp, device, tmp_path):
    params, history, X, y = _trained(xp, device)
    path = tmp_path / "net.png"
    _training_figure(params, X, y, history, title="a title").savefig(path, dpi=100)
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (460, 1000)  # figsize (10, 4.6) at 100 dpi
    pixels = image[::5, ::5, :3].reshape(-1, 3)
    for region in _region_colors(3):  # each class has a region in the picture
        assert np.abs(pixels - region).max(axis=1).min() < 3 / 255


def test_decision_regions_of_the_softmax_are_three_wedges():
    X, y = pn.make_spiral(30, 3, seed=0)
    params, _ = pn.train(pn.init_params([2, 3]), X, y, steps=100, log_every=50)
    _, ax = _axes()
    pn.plot_decision_regions(params, X, y, ax=ax, resolution=50)
    (img,) = ax.get_images()
    cells = np.asarray(img.get_array())  # (50, 50, 3) colours of the grid's predictions
    assert cells.shape == (50, 50, 3)
    x0, x1, y0, y1 = img.get_extent()
    dx, dy = (x1 - x0) / 50, (y1 - y0) / 50
    gx, gy = np.meshgrid(x0 + dx * (np.arange(50) + 0.5), y0 + dy * (np.arange(50) + 0.5))
    expected = pn.predict(params, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(50, 50)
    np.testing.assert_allclose(cells, _region_colors(3)[expected], atol=1e-12)


def test_plot_loss_is_the_history_on_a_log_scale():
    X, y = pn.make_spiral(20, 3)
    _, history = pn.train(pn.init_params([2, 3]), X, y, steps=50, log_every=10)
    for source in (history, {"steps": history.steps, "loss": history.loss}):
        _, ax = _axes()
        assert pn.plot_loss(source, ax=ax) is ax
        assert ax.get_yscale() == "log"
        (line,) = ax.get_lines()
        np.testing.assert_array_equal(line.get_xdata(), history.steps)
        np.testing.assert_array_equal(line.get_ydata(), history.loss)


def test_plot_data_colours_the_points_by_class(xp, device, tmp_path):
    X, y = pn.make_spiral(10, 4, seed=3, xp=xp, device=device)
    _, ax = _axes()
    pn.plot_data(X, y, ax=ax)
    (points,) = ax.collections
    np.testing.assert_array_equal(points.get_offsets(), to_numpy(X))
    np.testing.assert_allclose(points.get_facecolors()[:, :3], _colors(4)[to_numpy(y)])
    _data_figure(X, y).savefig(tmp_path / "spiral.png", dpi=100)
    assert matplotlib.image.imread(tmp_path / "spiral.png").shape[:2] == (500, 500)


def test_without_ax_a_new_pyplot_figure_is_made():
    import matplotlib.pyplot as plt

    X, y = pn.make_spiral(10, 3)
    params = pn.init_params([2, 3])
    try:
        ax = pn.plot_decision_regions(params, X, y, resolution=20)
        ax2 = pn.plot_data(X)
        assert ax.figure is not ax2.figure
        assert plt.fignum_exists(ax.figure.number)
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p, X, y: pn.plot_decision_regions(p, X[:, :1], y), ValueError, "shape"),
        (lambda p, X, y: pn.plot_decision_regions(p, X, y[:5]), ValueError, "one label per row"),
        (lambda p, X, y: pn.plot_decision_regions(p, X, y, resolution=1), ValueError, "resolution"),
        (lambda p, X, y: pn.plot_decision_regions(p, X, y, margin=-1), ValueError, "margin"),
        (lambda p, X, y: pn.plot_decision_regions([p], X, y), TypeError, "params"),
        (lambda p, X, y: pn.plot_decision_regions(p, X.tolist(), y), TypeError, "X"),
        (lambda p, X, y: pn.plot_decision_regions(p, X, y, ax="left"), TypeError, "ax"),
        (
            lambda p, X, y: pn.plot_decision_regions(pn.init_params([3, 3]), X, y),
            ValueError,
            "2 inputs",
        ),
        (lambda p, X, y: pn.plot_data(X, y * 1.5), ValueError, "integer"),
        (lambda p, X, y: pn.plot_loss([1, 2]), TypeError, "History"),
        (lambda p, X, y: pn.plot_loss({"steps": [], "loss": []}), ValueError, "no logged"),
        (lambda p, X, y: pn.plot_loss({"steps": [0], "loss": [0.0]}), ValueError, "positive"),
        (lambda p, X, y: pn.plot_loss({"steps": [0, 1], "loss": [1.0]}), ValueError, "length"),
    ],
)
def test_bad_input_is_a_clear_error(call, error, match):
    X, y = pn.make_spiral(10, 3)
    with pytest.raises(error, match=match):
        call(pn.init_params([2, 3]), X, y)


def test_mixed_libraries_are_refused():
    torch = pytest.importorskip("torch")
    X, y = pn.make_spiral(10, 3)
    params = pn.init_params([2, 3], xp="torch")
    with pytest.raises(TypeError, match="numpy array"):
        pn.plot_decision_regions(params, X, torch.asarray(y))


def test_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # 'import matplotlib' now fails
    X, y = pn.make_spiral(10, 3)
    for call in (
        lambda: pn.plot_data(X, y),
        lambda: pn.plot_loss({"steps": [0], "loss": [1.0]}),
        lambda: pn.plot_decision_regions(pn.init_params([2, 3]), X, y),
    ):
        with pytest.raises(ImportError, match=r"pip install 'portable-net\[plot\]'"):
            call()


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, portable_net; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
