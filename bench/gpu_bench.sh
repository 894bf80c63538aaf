#!/usr/bin/env bash
# The segmenter's GPU measurements (issue 17 point 2) in one command on a machine with CUDA and torch.
#
#   bench/gpu_bench.sh prepare   # here (the dev machine, with .venv): packets + the pure-Python wheel
#   bench/gpu_bench.sh run [STEP...]   # there (python3 with torch, numba, opencv): prints every figure;
#                                # with OUT set, also writes $OUT/gpu_bench.log. STEPs (default all, about
#                                # 10 min; split them over calls of the 10-minute device limit):
#                                # check seal pipeline pipeline-compile cpu
#
# `prepare` writes bench/.gpu/ (ignored by git): the shared evt3 recording's packets as .npz (no
# rosbags needed there) and the segment-anything wheel. `run` installs that wheel into a scratch
# directory, then runs, all with RANDOM weights (timing only):
#   1. bench/check_seal_cuda.py                CUDA graphs == eager, threads changing the vocabulary
#   2. bench/bench_seal.py (bf16, compile)     the model's window and prompt-only update vs naive eager
#   3. bench/bench_segmenter_pipeline.py       the node's window stage by stage: event image on the GPU
#      (vit_b, bf16, with and without compile)   (and its largest difference to numba), backbone,
#                                                decoder+head with run lengths, message build, prompt-only
#   4. bench/bench_seal.py --onnx only         the full-size window on that machine's CPU, torch vs ONNX
#                                                Runtime, at 2 threads and all cores
# The node over DDS (bench/bench_segmenter.py) needs ROS 2 there; this covers every stage but DDS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU="$ROOT/bench/.gpu"
cd "$ROOT"
case "${1:-}" in
  prepare)
    mkdir -p "$GPU/whl"
    grep -qx '/bench/.gpu/' .git/info/exclude 2>/dev/null || echo '/bench/.gpu/' >> "$(git rev-parse --git-path info/exclude)"
    scripts/with-env python bench/bench_segmenter_pipeline.py --save-packets "$GPU/packets.npz"
    scripts/with-env python -m pip download -q --no-deps --only-binary=:all: -d "$GPU/whl" segment-anything==1.0
    ls -la "$GPU" "$GPU/whl"
    ;;
  run)
    shift
    PY=${PYTHON:-python3}
    LOG=${OUT:+$OUT/gpu_bench.log}
    LOG=${LOG:-/dev/null}
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/seal_ros_site "$GPU"/whl/*.whl
    export PYTHONPATH="/tmp/seal_ros_site:$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    steps=${*:-check seal pipeline pipeline-compile cpu}
    {
      nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
      "$PY" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())'
      for step in $steps; do
        echo "== $step"
        case $step in
          check) "$PY" bench/check_seal_cuda.py || echo "check_seal_cuda: FAILED" ;;
          seal) "$PY" bench/bench_seal.py --device cuda --iters 30 --only-fast --compile --breakdown --clip no ;;
          pipeline) "$PY" bench/bench_segmenter_pipeline.py --model vit_b --device cuda --precision bf16 \
                      --windows 30 --packets "$GPU/packets.npz" ;;
          pipeline-compile) "$PY" bench/bench_segmenter_pipeline.py --model vit_b --device cuda --precision bf16 \
                      --windows 30 --packets "$GPU/packets.npz" --compile ;;
          cpu) "$PY" bench/bench_seal.py --device cpu --onnx only --threads "2,$(nproc)" --iters 3 --warmup 1 ;;
          *) echo "unknown step $step (check seal pipeline pipeline-compile cpu)" ;;
        esac
      done
    } 2>&1 | tee "$LOG"
    ;;
  *)
    echo "usage: bench/gpu_bench.sh prepare | run [check seal pipeline pipeline-compile cpu]" >&2
    exit 2
    ;;
esac
