#!/usr/bin/env bash
# The GPU check (issue 14): builds the native tests and eos_bench_gpu with CMake (reference CPU backend + CUDA;
# no Node, no oneDNN, nothing from outside the repository), runs the CUDA tests, times our CUDA engine and
# kNN against PyTorch on the same GPU back to back, and prints one short table last (summarize.py). The full
# figures go to OUTDIR as JSON. bench/gpu/README.md says what each part measures.
#
# Usage: bench/gpu/run.sh [OUTDIR]       OUTDIR defaults to $OUT when set, else ./gpu-results
#        bench/gpu/run.sh --build-only  configure and build both executables, then exit (CI, no GPU needed)
# Exit: 0 when every part ran (whether or not the targets are met: the table says that), 1 when a part failed
# or timed out, 2 when no CUDA device is found (checked right after the build).
# Environment: EOS_GPU_JOBS (build jobs, default: every core), EOS_GPU_BUDGET_S (seconds the whole check may
# take, default 460: each part's timeout is cut to what is left, and parts that no longer fit are skipped).
set -uo pipefail  # no -e: a part that fails is recorded and the check goes on to the next one
build_only=0
if [ "${1:-}" = "--build-only" ]; then
  build_only=1
else
  OUTDIR=${1:-${OUT:-./gpu-results}}  # relative to where the script is called from
  mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || exit 1
fi
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../.."
command -v nvcc >/dev/null || export PATH="$PATH:/usr/local/cuda/bin"
BUILD=build/gpu
BIN=$BUILD/Release
JOBS=${EOS_GPU_JOBS:-$(nproc)}

configure_and_build() {
  if ! python3 -c 'import json, sys; sys.exit(0 if json.load(open("native/sources.json"))["cuda"] else 1)'; then
    echo "gpu check: native/sources.json lists no CUDA sources: there is no CUDA engine to build" >&2
    return 1
  fi
  cmake -S . -B "$BUILD" -DEOS_CUDA=ON -DEOS_ADDON=OFF -DEOS_BACKEND=ref -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$BUILD" -j "$JOBS" --target eos_native_tests eos_bench_gpu
}

if [ "$build_only" = 1 ]; then
  configure_and_build 2>&1
  exit
fi

mkdir -p "$BUILD/scratch"
BUDGET=${EOS_GPU_BUDGET_S:-460}
LOG=$OUTDIR/run.log        # every part's stderr
PARTS=$OUTDIR/parts.jsonl  # one line per part: status, exit code, seconds
OURS=$OUTDIR/ours.jsonl    # eos_bench_gpu's JSON lines
PEER=$OUTDIR/torch.jsonl   # torch_peer.py's JSON lines
KNN_DUMP=$BUILD/scratch/eos-knn.i32  # our neighbour lists for the agreement check (44 MB: not in OUTDIR)
: >"$LOG"
: >"$PARTS"
: >"$OURS"
: >"$PEER"
rm -f "$KNN_DUMP"
failed=0

# part NAME TIMEOUT_S STDOUT_FILE COMMAND...: runs COMMAND under a timeout cut to the budget left, appends its
# stdout to STDOUT_FILE and its stderr to the log, and records how it ended.
part() {
  local name=$1 limit=$2 out=$3
  shift 3
  local left=$((BUDGET - SECONDS)) status rc=0 start=$SECONDS
  if [ "$left" -lt 20 ]; then
    status=skipped
    rc=-1
  else
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (timeout ${limit} s): $*" >>"$LOG"
    timeout -k 10 "$limit" "$@" >>"$out" 2>>"$LOG"
    rc=$?
    case $rc in
      0) status=ok ;;
      124 | 137) status=timeout ;;
      *) status=failed ;;
    esac
  fi
  [ "$status" = ok ] || [ "$status" = skipped ] || failed=1
  printf '{"part": "%s", "status": "%s", "rc": %d, "seconds": %d, "timeout_s": %d}\n' \
    "$name" "$status" "$rc" "$((SECONDS - start))" "$limit" >>"$PARTS"
  echo "gpu check: $name: $status ($((SECONDS - start)) s)" >&2
  [ "$status" = ok ]
}

# The card as we find it (clocks, temperature), for the record.
nvidia-smi --format=csv \
  --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem,temperature.gpu,power.draw >>"$LOG" 2>&1 || true

# Build (~2 min with -j16): this script's --build-only, its output to build.log.
rm -f "$BIN/eos_native_tests" "$BIN/eos_bench_gpu"  # a failed build must not leave an old binary to time
part build 300 "$OUTDIR/build.log" bash "$HERE/run.sh" --build-only
[ -x "$BIN/eos_bench_gpu" ] && built=1 || built=0

# No GPU: stop here, clearly (eos_bench_gpu prints "no CUDA device: <why>" and exits 2).
if [ "$built" = 1 ]; then
  timeout 30 "$BIN/eos_bench_gpu" --part device >>"$OURS"
  rc=$?
  if [ "$rc" = 2 ]; then
    exit 2
  elif [ "$rc" != 0 ]; then
    echo "gpu check: the device probe (eos_bench_gpu --part device) failed with exit code $rc" >&2
    exit 1
  fi
elif ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no CUDA device: nvidia-smi lists none (and the build failed: $OUTDIR/build.log)" >&2
  exit 2
fi

PY=(/usr/bin/env python3)
if [ "$built" = 1 ]; then
  part cuda-tests 120 "$OUTDIR/cuda-tests.log" "$BIN/eos_native_tests" cuda
fi
# The timings, back to back; ours in the default fp32 arithmetic first, tensor-core forms last (if time is left).
if [ "$built" = 1 ]; then
  part eos-fp32 100 "$OURS" env -u EOS_CUDA_MATH "$BIN/eos_bench_gpu" --part train,phase1,embed
fi
part torch-eager 75 "$PEER" "${PY[@]}" bench/gpu/torch_peer.py --part train,embed --form eager
part torch-bf16 75 "$PEER" "${PY[@]}" bench/gpu/torch_peer.py --part train,embed --form bf16
part torch-graph 75 "$PEER" "${PY[@]}" bench/gpu/torch_peer.py --part train --form graph
if [ "$built" = 1 ]; then
  part eos-knn 60 "$OURS" "$BIN/eos_bench_gpu" --part knn --knn-dump "$KNN_DUMP"
fi
part torch-knn 120 "$PEER" "${PY[@]}" bench/gpu/torch_peer.py --part knn --ours-knn "$KNN_DUMP"
if [ "$built" = 1 ]; then
  for math in tf32 bf16; do
    part "eos-$math" 60 "$OURS" env EOS_CUDA_MATH=$math "$BIN/eos_bench_gpu" --part train,phase1,embed
  done
fi
rm -f "$KNN_DUMP"

"${PY[@]}" bench/gpu/summarize.py "$OUTDIR" || failed=1
exit "$failed"
