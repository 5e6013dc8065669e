"""The Classifier keeps JAX's compiled programs on disk by default, as the command does
(portable_net/engines/compilation_cache.py); PORTABLE_NET_JAX_CACHE picks the directory or
turns it off, and a directory chosen for JAX itself is kept. Each case in a fresh process:
JAX decides at a process's first compilation whether it uses the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

FIT = """
import warnings
import numpy as np
import jax.numpy as jnp
import portable_net as pn
X, y = pn.make_spiral(30, 3, seed=0)
warnings.simplefilter("ignore")
pn.Classifier(hidden_layer_sizes=(8,), max_iter=2, batch_size=32).fit(jnp.asarray(X), y)
"""


def _fit(tmp_path: Path, **env: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "PORTABLE_NET_"))}
    clean.update(env, XDG_CACHE_HOME=str(tmp_path / "xdg"), JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-c", FIT], check=True, env=clean, timeout=300)


def _files(d: Path) -> list[Path]:
    return [p for p in d.rglob("*") if p.is_file()] if d.exists() else []


@pytest.mark.slow
def test_classifier_fit_fills_the_default_cache(tmp_path):
    _fit(tmp_path)
    assert _files(tmp_path / "xdg" / "portable_net" / "jax")


@pytest.mark.slow
def test_classifier_cache_directory_from_the_environment(tmp_path):
    _fit(tmp_path, PORTABLE_NET_JAX_CACHE=str(tmp_path / "mine"))
    assert _files(tmp_path / "mine")
    assert not _files(tmp_path / "xdg")


@pytest.mark.slow
def test_classifier_cache_off(tmp_path):
    _fit(tmp_path, PORTABLE_NET_JAX_CACHE="off")
    assert not _files(tmp_path / "xdg")


@pytest.mark.slow
def test_classifier_keeps_jax_own_cache_directory(tmp_path):
    _fit(tmp_path, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jaxs"))
    assert not _files(tmp_path / "xdg")
    # JAX's own threshold (1 s of compilation) is the user's too: nothing is lowered to 0
