#!/usr/bin/env bash
# The GPU measurements of issue 18 in one script, for a device machine (Python 3.12 with
# torch, nothing downloadable). Make the wheels first on a machine with PyPI
# (`bash bench/gpu_wheels.sh`, writes wheels/) and carry wheels/ with the run.
#
#   bash bench/gpu_run.sh --probe     # what the device has and lacks (seconds)
#   bash bench/gpu_run.sh             # install what is missing, then every measurement
#   STAGES=1 bash bench/gpu_run.sh    # also the engine's stage table on the 512x512x300
#                                     # series (writing the series costs minutes)
#
# Measurements (docs/segmentation-gpu.md), each printing nnU-Net's nnUNetPredictor and
# dicomnode's sliding window side by side with ratios and label-map agreement:
#  1. demo model (Demo model - not for clinical use), its network grid of the 512x512x300
#     series (94 x 105 x 105), 1 and 2 folds, fp32 / bf16 / fp16;
#  2. a random-weight full-size 3d_fullres network (1.5 mm, patch 128^3, 6 stages of
#     32-320 features, 31 M parameters) on that series' 1.5 mm grid (250 x 280 x 280, 48
#     tiles), 1 and 5 folds, mirrored (8 passes per tile), fp32 / bf16 / fp16, tile batch 8
#     and 16, then the fastest settings again with torch.compile;
#  3. (STAGES=1) bench/segment.py --realistic with the demo model and with the full-size
#     model (5 folds, mirrored, post-processing rules off): every stage's seconds.
# Results: $OUT (the device run's output folder) or ./gpu-results, one JSON per step and
# the log.
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS=${OUT:-gpu-results}
mkdir -p "$RESULTS"
exec > >(tee -a "$RESULTS/gpu_run.log") 2>&1
PY=${PYTHON:-python3}
SITE=${TMPDIR:-/tmp}/dicomnode-gpu-wheels
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export nnUNet_raw=/dev/null nnUNet_preprocessed=/dev/null nnUNet_results=/dev/null

probe() {
    "$PY" - <<'EOF'
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "available",
          torch.cuda.is_available(),
          torch.cuda.get_device_name() if torch.cuda.is_available() else "")
except Exception as exc:
    print("torch missing:", exc)
missing = []
for module in ("numpy", "scipy", "skimage", "SimpleITK", "cc3d", "batchgenerators",
               "batchgeneratorsv2", "acvl_utils", "dynamic_network_architectures",
               "nnunetv2", "pydantic", "pydicom", "highdicom", "yaml", "threadpoolctl",
               "blosc2", "einops", "tqdm", "pandas", "sklearn", "nibabel", "tifffile",
               "matplotlib", "seaborn", "yacs", "graphviz", "imagecodecs", "requests"):
    try:
        importlib.import_module(module)
    except Exception as exc:
        missing.append(f"{module} ({type(exc).__name__}: {exc})")
print("missing:", "; ".join(missing) or "nothing")
EOF
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
}

install_wheels() {
    [ -f wheels/wheels.tar.xz ] || { echo "no wheels/wheels.tar.xz (bench/gpu_wheels.sh)"; return 0; }
    rm -rf "$SITE" && mkdir -p "$SITE/unpacked" "$SITE/whl"
    tar -C "$SITE/unpacked" -xJf wheels/wheels.tar.xz
    "$PY" - "$SITE" <<'EOF'
import importlib.metadata as md, shutil, subprocess, sys
from pathlib import Path
site = Path(sys.argv[1])
todo = []
for folder in sorted((site / "unpacked").iterdir()):
    name = folder.name.split("-")[0]
    try:
        print(f"{name}: installed {md.version(name)}, kept")
        continue
    except md.PackageNotFoundError:
        pass
    archive = shutil.make_archive(str(site / "whl" / folder.name), "zip", folder)
    wheel = Path(archive).rename(site / "whl" / folder.name)
    todo.append(str(wheel))
if todo:
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps",
                    *todo], check=True)
EOF
}

step() {
    echo "=== $* ($(date -u +%T))"
    "$@" || echo "=== FAILED ($?): $*"
}

probe
[ "${1:-}" = "--probe" ] && exit 0
install_wheels
probe
step "$PY" bench/segment_compare.py --input random --shape 94 105 105 --folds 1 2 \
    --mirror on --precision fp32 bf16 fp16 --tile-batch 8 --repeats 3 --warmup \
    --threads 8 --json "$RESULTS/compare_demo.json"
step "$PY" bench/segment_compare.py --fullsize /tmp/dicomnode-fullsize --input random \
    --shape 250 280 280 --folds 1 5 --mirror on --precision bf16 fp16 fp32 \
    --tile-batch 8 16 --repeats 1 --warmup --threads 8 --json "$RESULTS/compare_fullsize.json"
step "$PY" bench/segment_compare.py --fullsize /tmp/dicomnode-fullsize --input random \
    --shape 250 280 280 --folds 5 --mirror on --precision bf16 --tile-batch 8 --compile \
    --repeats 1 --warmup --threads 8 --json "$RESULTS/compare_fullsize_compiled.json"
if [ "${STAGES:-0}" = 1 ]; then
    step "$PY" bench/segment.py --realistic --device cuda --threads 8 \
        --json "$RESULTS/stages_demo.json"
    step "$PY" bench/segment.py --realistic --device cuda --threads 8 \
        --model /tmp/dicomnode-fullsize --folds 0 1 2 3 4 --no-postprocess \
        --json "$RESULTS/stages_fullsize.json"
fi
echo "=== done ($(date -u +%T))"
