#!/usr/bin/env bash
# The offline GPU check, as one command, on a machine with an NVIDIA GPU where CuPy, torch (CUDA)
# and jax (CUDA) are installed but nothing can be downloaded:
#   bash bench/gpu-check.sh [OUTPUT_DIR [STAGE ...]]
# Installs the wheels carried in .wheels or .whl (array-api-compat, array-api-strict, nox and its
# helpers) into a scratch folder if present, then runs `nox --no-venv --no-install -s gpu`: the
# tests on cupy, torch (CUDA) and jax (GPU), `compare` against NumPy and the benchmark at the
# GPU targets' sizes. STAGEs (tests-cupy, bench, compare, tests-torch, tests-jax; default all)
# pick some. The log and the results written in this run (bench/results/<card>.md and .json)
# are copied to OUTPUT_DIR (default: $OUT, else ./gpu-check-out).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-check-out}}"
shift $(( $# > 0 ? 1 : 0 ))
mkdir -p "$out"
marker=$(mktemp)
for dir in .wheels .whl; do
  if compgen -G "$dir/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/portable-net-site "$dir"/*.whl
    export PYTHONPATH="/tmp/portable-net-site${PYTHONPATH:+:$PYTHONPATH}"
  fi
done
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{ nvidia-smi -L; python3 -c "import cupy; print('cupy', cupy.__version__)"; } 2>&1 | tee "$out/gpu.log"
python3 -m nox --no-venv --no-install -s gpu -- "$@" 2>&1 | tee -a "$out/gpu.log"
status=${PIPESTATUS[0]}
find bench/results -maxdepth 1 -newer "$marker" \( -name '*.md' -o -name '*.json' \) \
  -exec cp {} "$out"/ \;
echo "gpu check exit status $status; log and results in $out" | tee -a "$out/gpu.log"
exit "$status"
