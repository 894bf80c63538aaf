#!/usr/bin/env bash
# The GPU rows of `seal-ros bench` in one command on a machine with CUDA and torch (no ROS needed there).
#
#   bench/gpu_bench.sh prepare          # here (the dev machine, with .venv): bench/.gpu/ (ignored by git)
#   bench/gpu_bench.sh run [STEP...]    # there (python3 with torch, numba, opencv, onnxruntime): prints
#                                       # every figure; with OUT set, also writes $OUT/gpu_bench.log
#
# `prepare` writes bench/.gpu/: the shared evt3 recording's packets as .npz (bench/packets.py reads
# them where ../shared and rosbags are not) and the segment-anything wheel. Carry bench/.gpu to the
# GPU machine (the device tool: carry ["bench/.gpu"]). `run` installs the wheel into a scratch
# directory and runs these STEPs (default: table check; all with RANDOM weights, timing only):
#   table    `python3 -m seal_ros.cli bench`: the same harness and table as here, every target's
#            benchmark with its table arguments; on that machine 17.2 (bench_segmenter_pipeline: the
#            node's window stage by stage on the GPU, bf16, without DDS), 17.3 (the full-size CPU window,
#            torch vs ONNX Runtime, 2 threads and all cores) and 16 (automatic mode on the GPU, bf16,
#            32x32 target); decode/warmstart/segmenter say "skipped" (no recordings, no ROS 2 there).
#            About 4-6 minutes.
#   check    bench/check_seal_cuda.py: CUDA graphs == eager, threads changing the vocabulary
#   compile  the pipeline again with torch.compile (the node's compile:=true): its own table
#   seal     bench_seal on the GPU (bf16, compile): the model's window and prompt-only update against
#            the naive eager pipeline: its own table
# One device call runs at most 10 minutes: `run table check` in one call, `run compile seal` in another.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GPU="$ROOT/bench/.gpu"
cd "$ROOT"
case "${1:-}" in
  prepare)
    mkdir -p "$GPU/whl"
    exclude=$(git rev-parse --git-path info/exclude)
    grep -qx '/bench/.gpu/' "$exclude" 2>/dev/null || echo '/bench/.gpu/' >> "$exclude"
    scripts/with-env python bench/bench_segmenter_pipeline.py --save-packets "$GPU/packets.npz"
    scripts/with-env python -m pip download -q --no-deps --only-binary=:all: -d "$GPU/whl" segment-anything==1.0
    ls -la "$GPU" "$GPU/whl"
    ;;
  run)
    shift
    PY=${PYTHON:-python3}
    LOG=${OUT:+$OUT/gpu_bench.log}
    LOG=${LOG:-/dev/null}
    [ -f "$GPU/packets.npz" ] || { echo "gpu_bench: $GPU/packets.npz missing: run 'bench/gpu_bench.sh prepare' first" >&2; exit 2; }
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/seal_ros_site "$GPU"/whl/*.whl
    export PYTHONPATH="/tmp/seal_ros_site:$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
    steps=${*:-table check}
    {
      nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
      "$PY" -c 'import torch; c = torch.cuda.is_available(); print("torch", torch.__version__, torch.cuda.get_device_name() if c else "NO CUDA: the GPU rows stay unmeasured")'
      for step in $steps; do
        echo "== $step"
        case $step in
          table) "$PY" -m seal_ros.cli bench || echo "gpu_bench: the table run exited with $?" ;;
          check) "$PY" bench/check_seal_cuda.py || echo "check_seal_cuda: FAILED" ;;
          compile) "$PY" -m seal_ros.cli bench pipeline -- --compile ;;
          seal) "$PY" -m seal_ros.cli bench seal -- --device cuda --iters 30 --only-fast --compile --breakdown \
                  --clip no --onnx no ;;
          *) echo "unknown step $step (table check compile seal)" ;;
        esac
      done
    } 2>&1 | tee "$LOG"
    ;;
  *)
    echo "usage: bench/gpu_bench.sh prepare | run [table check compile seal]" >&2
    exit 2
    ;;
esac
