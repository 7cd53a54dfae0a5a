#!/usr/bin/env bash
# trainer against PyTorch on Fashion-MNIST (issues 6 and 18), measured side by side in one run.
#
# Usage: scripts/bench.sh [--model mlp|cnn] [--accuracy [--seeds "1 2 3"]] [--batches "32 256 2048"] [--repeats N]
#                         [--gemm-rounds N] [--rows N] [--skip-gemm] [--skip-torch] [--out DIR]
#   --model cnn the image model (configs/fashion-mnist-cnn.json against ../shared/peers/torch_cnn.py):
#               one conv layer's forward and backward and one training step (bench/conv_bench.cpp),
#               then bench/cnn_bench.py: per round and batch (default "32 128 512"), the trainer,
#               the trainer with data.augment (flip, crop), 4 PyTorch settings and the 2-thread
#               SGEMM peak interleaved (--skip-gemm: no conv_bench, no peak), on the first --rows rows
#               (default 10000): PyTorch's epoch 2 timed, the trainer's epochs 2-4.
#   --model mlp (the default): the MLP of issue 6 (784-512-256-10, configs/fashion-mnist-mlp.json):
#   default     SGEMM peak (bench/gemm_compare.py), one training step per layer size and batch
#               (bench/step_bench.cpp, Google Benchmark; both skipped by --skip-gemm), then for each batch size one epoch of
#               `trainer fit` (samples/s from --metrics, peak RSS from /usr/bin/time -v), then the
#               PyTorch settings (bench/torch_mlp_bench.py picks the best per batch), then the table.
#   --accuracy  10 epochs at B=256 of configs/fashion-mnist-mlp.json's model and optimizer, for
#               each seed of --seeds (default "1 2 3"), and the PyTorch equivalent: both train on
#               all 60000 training rows (the config's validation split is dropped, the test set is
#               evaluated after every epoch) and the table compares mean test accuracies.
# Installs what is missing (python3-torch, libopenblas-dev + both OpenBLAS builds, time), checks
# that libblas.so.3 (PyTorch's GEMMs) is OpenBLAS, runs OpenBLAS without OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE (they force older kernels), gets
# Fashion-MNIST (scripts/get-fashion-mnist.sh), builds into build-bench/ (Release, -march=native).
# Results and raw logs go to build-bench/bench-results/ (or --out).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-bench"
out="$build/bench-results"
model=mlp
batches=""
rows=10000
repeats=1
gemm_rounds=3
mode=speed
skip_gemm=0
skip_torch=0
seeds="1 2 3"
while [ $# -gt 0 ]; do
  case "$1" in
    --accuracy) mode=accuracy ;;
    --batches) batches="$2"; shift ;;
    --repeats) repeats="$2"; shift ;;
    --seeds) seeds="$2"; shift ;;
    --gemm-rounds) gemm_rounds="$2"; shift ;;
    --skip-gemm) skip_gemm=1 ;;
    --skip-torch) skip_torch=1 ;;
    --out) out="$2"; shift ;;
    --model) model="$2"; shift ;;
    --rows) rows="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$model" in
  mlp) batches="${batches:-32 256 2048}" ;;
  cnn) batches="${batches:-32 128 512}" ;;
  *) echo "bench.sh: --model $model: valid are mlp and cnn" >&2; exit 2 ;;
esac
mkdir -p "$out"
# OpenBLAS (PyTorch's GEMMs, the SGEMM peak) with this CPU's own kernels: where these are set
# they force older ones (../shared/peers/README.md).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# Debian's interpreter: python3-torch lives in its dist-packages, not in a pyenv/venv python3.
py=/usr/bin/python3

# --- packages -------------------------------------------------------------------------------
"$root/scripts/install-packages.sh" --project python3-torch libopenblas-dev libopenblas0-pthread \
  libopenblas0-openmp time libbenchmark-dev

# PyTorch does its GEMMs through libblas.so.3: with the reference BLAS it is about 20x slower and
# every ratio against it is meaningless.
blas="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)"
case "$blas" in
  *openblas*) echo "bench.sh: libblas.so.3 is $blas" >&2 ;;
  *) echo "bench.sh: libblas.so.3 resolves to '$blas', not OpenBLAS: PyTorch's figures would be meaningless" \
          "(update-alternatives --set libblas.so.3-x86_64-linux-gnu" \
          "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3)" >&2
     exit 1 ;;
esac

# --- build ----------------------------------------------------------------------------------
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRAINER_NATIVE=ON -DTRAINER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target gemm_bench step_bench conv_bench -j2 >/dev/null
# The trainer is built on its own so that a trainer that does not build yet still leaves the
# PyTorch and GEMM columns (its own column then reads n/a). TRAINER=path overrides.
trainer="${TRAINER:-$build/trainer}"
if [ -z "${TRAINER:-}" ] && ! cmake --build "$build" --target trainer -j2 > "$out/trainer-build.log" 2>&1; then
  echo "bench.sh: trainer did not build (see $out/trainer-build.log); its column will read n/a" >&2
fi
have_trainer=0
[ -x "$trainer" ] && have_trainer=1

# --- data -----------------------------------------------------------------------------------
data="$root/data/fashion-mnist"
if [ ! -f "$data/test_y.npy" ]; then
  if [ "$have_trainer" -eq 0 ]; then
    echo "bench.sh: $data is missing and there is no trainer to import it with" \
         "(scripts/get-fashion-mnist.sh needs one); build trainer or set TRAINER" >&2
    exit 1
  fi
  TRAINER="$trainer" "$root/scripts/get-fashion-mnist.sh"
fi
config="$root/configs/fashion-mnist-mlp.json"

{ date -u +"date: %Y-%m-%dT%H:%M:%SZ"; lscpu | head -20; uptime; echo "libblas.so.3: $blas"; } > "$out/machine.txt"

if [ "$model" = cnn ]; then
  gemm_args=()
  if [ "$skip_gemm" -eq 0 ]; then
    echo "bench.sh: one conv layer's forward and backward, one training step (bench/conv_bench.cpp)" >&2
    "$build/bench/conv_bench" --benchmark_min_time=0.3 --benchmark_out="$out/conv_bench.json" \
      --benchmark_out_format=json > "$out/conv_bench.txt"
    gemm_args=(--gemm-bench "$build/bench/gemm_bench")  # the SGEMM peak, in every round
  fi
  settings=ootb,blas1,passive,passive-cl
  [ "$skip_torch" -eq 1 ] && settings=""
  [ "$have_trainer" -eq 1 ] || { echo "bench.sh: no trainer to measure" >&2; exit 1; }
  "$py" "$root/bench/cnn_bench.py" --trainer "$trainer" --torch-script "$root/../shared/peers/torch_cnn.py" \
    --data "$data" --out "$out" --config "$root/configs/fashion-mnist-cnn.json" \
    --batches "$(echo "$batches" | tr -s ' ' ,)" --rows "$rows" --repeats "$repeats" --settings "$settings" \
    --augment "${gemm_args[@]}"
  exit 0
fi

# Runs one `trainer fit`; its RSS comes from /usr/bin/time -v (the whole process, like ru_maxrss).
run_trainer() {  # run_trainer NAME EPOCHS BATCH [extra args...]
  local name=$1 epochs=$2 batch=$3
  shift 3
  rm -f "$out/$name.jsonl" "$out/$name.time"
  [ "$have_trainer" -eq 1 ] || return 0
  if ! /usr/bin/time -v -o "$out/$name.time" "$trainer" fit --config "${run_config:-$config}" --epochs "$epochs" \
      --batch-size "$batch" --threads 2 --metrics "$out/$name.jsonl" "$@" \
      > "$out/$name.json" 2> "$out/$name.log"; then
    echo "bench.sh: trainer fit (B=$batch) failed; see $out/$name.log" >&2
    tail -n 3 "$out/$name.log" >&2 || true
  fi
}

if [ "$mode" = accuracy ]; then
  for seed in $seeds; do
    # The same rows for both: all 60000 for training, the test set after every epoch (as the
    # PyTorch script does), the config's model, optimizer and schedule unchanged.
    run_config="$out/accuracy-config-s$seed.json"
    "$py" - "$config" "$run_config" "$seed" <<'PY'
import json, os, sys
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = json.load(open(src))
base = os.path.dirname(os.path.abspath(src))
for part in ("train", "test"):
    for k in ("x", "y"):
        c["data"][part][k] = os.path.normpath(os.path.join(base, c["data"][part][k]))
c["data"].pop("validation_split", None)
c["data"]["validation"] = dict(c["data"]["test"])
c["training"]["seed"] = seed
c.pop("$schema", None)
json.dump(c, open(dst, "w"), indent=1)
PY
    echo "bench.sh: 10 epochs at B=256, trainer, seed $seed" >&2
    run_trainer "accuracy-trainer-s$seed" 10 256 --json
    if [ "$skip_torch" -eq 0 ]; then
      echo "bench.sh: 10 epochs at B=256, PyTorch (2 threads, OMP_WAIT_POLICY=PASSIVE, in memory), seed $seed" >&2
      "$py" "$root/bench/torch_mlp_bench.py" --data "$data" --epochs 10 --batches 256 --seed "$seed" \
        --settings passive --modes memory > "$out/accuracy-torch-s$seed.jsonl"
    fi
  done
  unset run_config
  "$py" "$root/bench/bench_table.py" "$out" --accuracy | tee "$out/accuracy.md"
  exit 0
fi

# --- SGEMM peak -----------------------------------------------------------------------------
if [ "$skip_gemm" -eq 0 ]; then
  echo "bench.sh: SGEMM (Eigen / OpenBLAS, 1 and 2 threads), $gemm_rounds rounds" >&2
  "$py" "$root/bench/gemm_compare.py" --gemm-bench "$build/bench/gemm_bench" --rounds "$gemm_rounds" \
    --json "$out/gemm.json" --raw "$out/gemm-raw.jsonl" > "$out/gemm.md"
fi

# --- one training step per layer size (Google Benchmark) ---------------------------------------
if [ "$skip_gemm" -eq 0 ]; then
  echo "bench.sh: one training step per layer size and batch (bench/step_bench.cpp)" >&2
  "$build/bench/step_bench" --benchmark_min_time=0.3 --benchmark_out="$out/step_bench.json" \
    --benchmark_out_format=json > "$out/step_bench.txt"
fi

# --- trainer --------------------------------------------------------------------------------
for r in $(seq 1 "$repeats"); do
  for b in $batches; do
    echo "bench.sh: trainer B=$b (repeat $r/$repeats)" >&2
    run_trainer "trainer-B$b-r$r" 1 "$b"
  done
done

# --- PyTorch --------------------------------------------------------------------------------
if [ "$skip_torch" -eq 0 ]; then
  echo "bench.sh: PyTorch, 4 thread settings x in-memory/mmap x batches $batches" >&2
  "$py" "$root/bench/torch_mlp_bench.py" --data "$data" --batches "$(echo "$batches" | tr -s ' ' ,)" \
    --repeats "$repeats" > "$out/torch.jsonl"
fi

"$py" "$root/bench/bench_table.py" "$out" | tee "$out/table.md"
