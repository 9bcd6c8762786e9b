#!/usr/bin/env bash
# The train stage's code on the borrowed GPU machine: QLoRA and bf16 LoRA on a Qwen2.5-7B-shaped
# model with 2 random layers, peak GPU memory, tokens/s and the loss curve against the memory plan
# (benchmarks/gpu_check.py). Prepared for a short run (~3-5 min on an H200).
#
# 1. Here, once (network): the wheels the GPU machine lacks, into .whl/ (git-ignored there):
#        bash benchmarks/gpu_check.sh --fetch
#    (its python3 is 3.12 with torch, transformers 5.17, peft and accelerate; not trl,
#    bitsandbytes, datasets or orjson, and our transformers pin is 5.24)
# 2. There (device tool, carry [".whl"], timeout ~540 s):
#        bash benchmarks/gpu_check.sh
#    It prints one JSON object per mode and writes them to $OUT when it is set.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS=(transformers==5.24.0 trl==1.16.0 bitsandbytes==0.50.2 datasets==5.2.0 orjson==3.13.0
        dill==0.4.1 multiprocess==0.70.19)

if [[ "${1:-}" == "--fetch" ]]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl "${WHEELS[@]}"
    du -sh .whl
    exit 0
fi

if [[ -d .whl ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
OUT_DIR="${OUT:-/tmp/gpu_check_out}"
status=0
for mode in qlora bf16; do
    echo "== $mode"
    timeout 240 python3 benchmarks/gpu_check.py --mode "$mode" --layers "${LAYERS:-2}" \
        --tokens "${TOKENS:-2048}" --steps "${STEPS:-6}" --out "$OUT_DIR" || status=$?
done
exit $status
