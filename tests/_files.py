"""Model files written by hand: a valid file's JSON document changed, or an old layout, to
test what the readers do with files that the writer would never write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def document(path) -> dict:
    """The JSON document of a model file."""
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["_metadata"][()]))


def write(path, params: dict, doc: dict) -> Path:
    """A model file of ``params`` (NumPy) and the JSON document ``doc``, as np.savez writes
    it (the layout of every version of the format)."""
    arrays = {k: np.asarray(v) for k, v in params.items()}
    arrays["_metadata"] = np.array(json.dumps(doc))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def rewrite(source, target, change) -> Path:
    """A copy of the model file ``source`` whose document went through ``change(doc)``
    (which edits it in place, or returns a new one)."""
    with np.load(source, allow_pickle=False) as npz:
        params = {k: npz[k] for k in npz.files if k != "_metadata"}
        doc = json.loads(str(npz["_metadata"][()]))
    changed = change(doc)
    return write(target, params, doc if changed is None else changed)
