#!/usr/bin/env bash
# Fetch, into .whl/ (kept out of git through .git/info/exclude), the wheels the GPU machine's
# image lacks for the GPU check (bench/gpu-check.sh installs them there, offline): exactly the
# versions this project tests with, for that machine's Python 3.12 on x86-64 Linux (all of them
# pure Python). Run in the project's root, on a machine that reaches PyPI:
#   bash bench/fetch-gpu-wheels.sh
# The image already has numpy, pytest, cupy, torch, jax, attrs, humanize, packaging and
# filelock (/work/.library/device/KINDS.md); nox needs the rest below. Any earlier .whl/*.whl
# are removed first, so that no second version of a package travels. See bench/GPU.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
pins=(
  array-api-compat==1.16.0
  array-api-strict==2.6.1
  # nox and those of its requirements that the image lacks
  nox==2026.10.20
  argcomplete==3.7.2
  colorlog==6.12.0
  dependency-groups==1.3.2
  platformdirs==4.14.8
  python-discovery==1.9.6
  virtualenv==21.15.11
  distlib==0.4.4
)
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
mkdir -p .whl
rm -f .whl/*.whl
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --abi cp312 --abi abi3 --abi none --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform any -d .whl "${pins[@]}"
# exactly one wheel per pin, of the pinned version
for pin in "${pins[@]}"; do
  name="${pin%%==*}"; version="${pin##*==}"
  file=$(find .whl -maxdepth 1 -iname "${name//-/_}-${version}-*.whl" | head -1)
  [ -n "$file" ] || { echo "missing: $pin" >&2; exit 1; }
done
[ "$(find .whl -maxdepth 1 -type f -name '*.whl' | wc -l)" -eq "${#pins[@]}" ] || { ls .whl >&2; exit 1; }
ls .whl
