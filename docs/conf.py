"""Sphinx configuration: ``nox -s docs`` or
``python -m sphinx -W --keep-going -b html docs docs/_build/html``.

Markdown pages through myst-parser, the API reference from numpydoc docstrings (validated:
the build fails on a violation), figures drawn by matplotlib's plot directive while the
documentation builds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's portable_net, installed or not
os.environ.setdefault("MPLBACKEND", "Agg")

import portable_net  # noqa: E402

project = "portable_net"
author = "The portable_net developers"
copyright = "the portable_net developers"
release = portable_net.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# every cross-reference must resolve
nitpicky = True

# myst: $...$ and $$...$$ maths, ::: fences, headings as anchors for links between pages
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# alabaster: Sphinx's own theme, nothing more to install
html_theme = "alabaster"
html_theme_options = {
    "description": "hand-written backprop on any array API library",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_static_path: list[str] = []
templates_path = ["_templates"]

# autodoc / autosummary: the signature without type hints (the docstrings say the types)
autosummary_generate = True
autodoc_typehints = "none"

# numpydoc: validate every public object; the build fails on a violation
numpydoc_show_class_members = False  # the class template documents them
numpydoc_class_members_toctree = False
numpydoc_show_inherited_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = {
    "all",
    # See Also: a small API whose pages already link each other; a See Also on every
    # function would list the same few neighbours
    "SA01",
    # Extended Summary: one-line functions (predict, accuracy) say all in their summary
    # and parameters; a second paragraph would repeat them
    "ES01",
}
numpydoc_validation_exclude = {
    # the named tuples' fields ("Alias for field number 0"), described in the class's
    # Parameters section
    r"^portable_net\.optim\.(SGD|Adam)State\.\w+$",
    # inherited from builtins, not ours to document
    r"\.__init__$",
    r"\.with_traceback$",
    r"\.add_note$",
    # scikit-learn's metadata routing writes these (set_fit_request, ...) and their docstrings
    r"\.set_\w+_request$",
}

# matplotlib's plot directive: run the code, keep the PNG, no source links
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 80)]
plot_rcparams = {"figure.dpi": 80}

# cross-references that cannot resolve offline (no intersphinx inventories are fetched)
nitpick_ignore = [
    ("py:class", "sklearn.neural_network.MLPClassifier"),
]
