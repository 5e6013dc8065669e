#!/usr/bin/env bash
# The offline GPU check, as one command, on a machine with an NVIDIA GPU where CuPy, torch (CUDA)
# and jax (CUDA) are installed but nothing can be downloaded. The GPU visit runs it as the device
# tool's `run` with carry [".whl"], timeout_s 480 and the command
#   bash bench/gpu-check.sh
# (first, here: bash bench/fetch-gpu-wheels.sh fills .whl/; see bench/GPU.md).
#
#   bash bench/gpu-check.sh [OUTPUT_DIR [STAGE ...]]
# Installs the wheels carried in .whl (array-api-compat, array-api-strict, nox and the helpers
# of nox the machine lacks) into a scratch folder, then runs `nox --no-venv --no-install -s gpu`
# (noxfile.py): preflight, tests-cupy, bench, compare, tests-torch, tests-jax, memcheck, or the
# STAGEs named. Everything is written into OUTPUT_DIR (default: $OUT, else ./gpu-check-out) as
# it is produced, at most 8 files: gpu.log (all the output), stages.json, preflight.json,
# <card>.json and <card>.md (the benchmark), compare.md. The whole check runs under a time limit
# of GPU_CHECK_SECONDS (default 405 s: a minute to spare under timeout_s 480).
# PORTABLE_NET_REQUIRE (default cupy,torch,jax; empty: nothing) names what must work on the GPU.
# PYTHON (default python3) is the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-check-out}}"
shift $(( $# > 0 ? 1 : 0 ))
mkdir -p "$out"
out=$(cd "$out" && pwd)
py="${PYTHON:-python3}"
budget="${GPU_CHECK_SECONDS:-405}"
exec > >(tee -a "$out/gpu.log") 2>&1
started=$(date +%s)
echo "gpu check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $("$py" --version 2>&1) at $(command -v "$py"), limit ${budget} s, results in $out"
site="${GPU_CHECK_SITE:-/tmp/portable-net-site}"
for dir in .whl .wheels; do
  if compgen -G "$dir/*.whl" > /dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" "$dir"/*.whl \
      || echo "installing the wheels in $dir failed"
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
  fi
done
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
timeout -k 10 "$(( budget - ($(date +%s) - started) ))" \
  "$py" -m nox --no-venv --no-install -s gpu -- --output "$out" "$@"
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "the gpu check ran past its limit of ${budget} s and was stopped; what it wrote is in $out"
fi
echo "gpu check exit status $status after $(( $(date +%s) - started )) s; files in $out:"
ls -l "$out"
sleep 1  # let tee finish the log
exit "$status"
