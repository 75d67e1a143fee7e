#!/usr/bin/env bash
# Issue 6's GPU figures in one short call of a lent GPU machine (about 8
# minutes of a 15-minute device allowance), most important first; each step
# gets what is left of the deadline, so a slow step costs the later ones,
# never the results already written.
#
# Prepare once, here (the GPU machine sees only the repository, not ../shared):
#     echo /.gpu/ >> .git/info/exclude
#     mkdir -p .gpu/data && cp -r ../shared/data/mnist .gpu/data/ && mkdir -p .gpu/data/cifar10 && cp -r ../shared/data/cifar10/test .gpu/data/cifar10/
# then run it there through the device tool, carrying .gpu:
#     command: bash benchmarks/gpu_check.sh     carry: [".gpu"]     timeout_s: 560
# It uses the machine's own python3 (torch, torchvision, safetensors and tqdm
# are installed there) with ganforge from src/, and writes $OUT/gpu_check.log
# and $OUT/results.tar.gz (the new benchmarks/results/*.json).
set -uo pipefail

BUDGET_S=${GPU_CHECK_BUDGET_S:-480}
OUT=${OUT:-/tmp/gpu_check_out}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export GANFORGE_BENCH_DATA=${GANFORGE_BENCH_DATA:-$PWD/.gpu/data}
LOG="$OUT/gpu_check.log"
START=$(date +%s)
MARK=$(mktemp)

step() {  # step CAP_S COMMAND...: run with min(CAP_S, time left) seconds, log its status
    local cap=$1
    shift
    local left=$((BUDGET_S - ($(date +%s) - START)))
    if ((left < 20)); then
        echo "### skipped (budget spent): $*" | tee -a "$LOG"
        return
    fi
    ((cap > left)) && cap=$left
    echo "### $(date +%T) [${cap}s] $*" | tee -a "$LOG"
    timeout --signal=INT --kill-after=10 "$cap" "$@" 2>&1 | tee -a "$LOG"
    echo "### status ${PIPESTATUS[0]} after $(($(date +%s) - START))s" | tee -a "$LOG"
}

collect() {
    find benchmarks/results -name '*.json' -newer "$MARK" -print0 | tar -czf "$OUT/results.tar.gz" --null -T -
    echo "### results: $(tar -tzf "$OUT/results.tar.gz" | wc -l) files" | tee -a "$LOG"
}
trap collect EXIT

{ nvidia-smi -L; $PYTHON -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee -a "$LOG"
[[ -d "$GANFORGE_BENCH_DATA/cifar10/test" ]] || echo "### no CIFAR-10 under $GANFORGE_BENCH_DATA: carry .gpu (see the top of this script)" | tee -a "$LOG"

FAST=(--ganforge-option precision=bf16 --ganforge-option compile=true)
GRAPHS=(--ganforge-option precision=bf16 --ganforge-option compile=true --ganforge-option compile_mode=reduce-overhead)
REF=(-m benchmarks.reference_loop --data cifar10 --device cuda --workers 8 --threads 8 --steps 50 --warmup 10 --repeats 3)

# 1. The CUDA-only tests (fp16 resume keeps the gradient scale; CUDA graphs follow eager).
step 120 $PYTHON -m pytest -q -p no:cacheprovider tests/test_performance.py
# 2. The tutorial loop against ganforge, dcgan 64x64: same maths, then bf16 + compile, then CUDA graphs.
step 60 $PYTHON "${REF[@]}" --model dcgan --image-size 64 --batch-size 256
step 120 $PYTHON "${REF[@]}" --model dcgan --image-size 64 --batch-size 256 "${FAST[@]}"
step 120 $PYTHON "${REF[@]}" --model dcgan --image-size 64 --batch-size 256 "${GRAPHS[@]}"
# 3. The same for sngan 32x32 (SNGAN's batch 64 would underuse the GPU: 128).
step 60 $PYTHON "${REF[@]}" --model sngan --batch-size 128
step 120 $PYTHON "${REF[@]}" --model sngan --batch-size 128 "${FAST[@]}"
# 4. Every speed option with peak memory and MFU (one fresh process per variant).
step 150 $PYTHON -m benchmarks.speed_options --data cifar10 --image-size 64 --model dcgan --device cuda --batch-size 256 --threads 8 \
    --steps 50 --warmup 10 --variants fp32,bf16,fp16,channels-last,compile,compile-bf16,cuda-graphs-bf16
step 150 $PYTHON -m benchmarks.speed_options --data cifar10 --model sngan --device cuda --batch-size 128 --threads 8 \
    --steps 50 --warmup 10 --variants fp32,bf16,compile-bf16,cuda-graphs-bf16
