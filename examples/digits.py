"""Your own data from the command line: scikit-learn's handwritten digits as a CSV file.

    python examples/digits.py [OUTPUT_DIR]        (needs: pip install scikit-learn)

Writes the 1,797 8x8 images of ``sklearn.datasets.load_digits`` (shipped with
scikit-learn, nothing is downloaded) as ``digits.csv``: a header ``pixel0,...,pixel63,digit``
and one row per image, its 64 grey levels (0..16) and its digit. OUTPUT_DIR is created if
needed; without it, a new temporary directory is made (and printed). Then it prints the
commands that train a net on the file, holding out a quarter of it as a test set, and use
the saved model::

    portable-net train --data DIR/digits.csv --label digit --test-size 0.25 --standardize \\
        --save DIR/digits.npz
    portable-net evaluate DIR/digits.npz --data DIR/digits.csv --label digit --confusion
    portable-net predict DIR/digits.npz --data DIR/digits.csv --label digit
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

#: what the example prints to run on the file it wrote ("{csv}", "{model}": their paths)
TRAIN = (
    "portable-net train --data {csv} --label digit --test-size 0.25 --standardize --save {model}"
)
EVALUATE = "portable-net evaluate {model} --data {csv} --label digit --confusion"
PREDICT = "portable-net predict {model} --data {csv} --label digit"


def write_digits_csv(path: Path) -> int:
    """Write the digits as CSV with a header to ``path``; return the number of rows."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    header = [f"pixel{j}" for j in range(digits.data.shape[1])] + ["digit"]
    lines = [",".join(header)]
    for pixels, digit in zip(digits.data.astype(int).tolist(), digits.target.tolist()):
        lines.append(",".join(map(str, pixels)) + f",{digit}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write scikit-learn's digits as digits.csv and print how to train on it."
    )
    parser.add_argument(
        "output_dir",
        nargs="?",
        default=None,
        help="where to write digits.csv (default: a new temporary directory)",
    )
    args = parser.parse_args(argv)
    if args.output_dir is None:
        out = Path(tempfile.mkdtemp(prefix="portable-net-digits-"))
        print(f"writing to a new temporary directory: {out}")
    else:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "digits.csv"
    rows = write_digits_csv(csv_path)
    print(f"wrote {rows} images (64 pixels and the digit each) to {csv_path}")
    paths = {"csv": shlex.quote(str(csv_path)), "model": shlex.quote(str(out / "digits.npz"))}
    print("train a net on it (a quarter held out to test), then use the model:")
    for command in (TRAIN, EVALUATE, PREDICT):
        print("  " + command.format(**paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
