#!/usr/bin/env bash
# Wheels for bench/gpu_run.sh, made on a machine with PyPI for a device machine without it
# (Python 3.12 with torch there). Downloads the cp312 manylinux wheels of the packages the
# device lacks (no dependencies: torch and the scientific stack are expected there; run
# bench/gpu_run.sh's probe, `bash bench/gpu_run.sh --probe`, to see what else is missing and
# add it with EXTRA_PACKAGES="name==version ..."), builds pure-Python wheels of the packages
# published as sdists only (acvl-utils, batchgenerators), and packs all of them unpacked into
# one xz archive (SimpleITK's 52 MB wheel takes 29 MB), within the 64 MiB a device run carries.
#
#   bash bench/gpu_wheels.sh [OUT]          # OUT default: wheels/ (git-ignored: add it to carry)
set -euo pipefail
OUT=${1:-wheels}
PY=${PYTHON:-python3}
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
BINARY=(simpleitk==2.5.7 connected-components-3d==4.1.1 batchgeneratorsv2==0.3.6
        nnunetv2==2.8.1 dynamic-network-architectures==0.4.4 ${EXTRA_PACKAGES:-})
SDIST=(acvl-utils==0.2.6 batchgenerators==0.25.5)
mkdir -p "$STAGE/whl" "$STAGE/sdist" "$OUT"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d "$STAGE/whl" "${BINARY[@]}"
"$PY" -m pip download --quiet --no-deps --no-binary=:all: -d "$STAGE/sdist" "${SDIST[@]}"
# pure Python: the wheel built here installs on 3.12 as well
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$STAGE/whl" "$STAGE"/sdist/*
# each wheel unpacked into a folder of its file name; gpu_run.sh zips them back
mkdir -p "$STAGE/unpacked"
for wheel in "$STAGE"/whl/*.whl; do
    "$PY" -m zipfile -e "$wheel" "$STAGE/unpacked/$(basename "$wheel")"
done
tar -C "$STAGE/unpacked" -cf - . | xz -T0 -6 > "$OUT/wheels.tar.xz"
ls "$STAGE/whl" > "$OUT/wheels.txt"
echo "$OUT/wheels.tar.xz: $(du -h "$OUT/wheels.tar.xz" | cut -f1), $(wc -l < "$OUT/wheels.txt") wheels"
