#!/usr/bin/env bash
# Build llama-cpp-python for a portable x86-64 instruction set and install it into the venv.
#
# llama.cpp defaults to -march=native: a wheel built on one CPU can die with SIGILL (illegal
# instruction) on another, e.g. AMX `tilezero` on Xeon VMs that advertise AMX but do not allow it.
# pip's wheel cache keys on the source only, so the wheel is built with pip's cache off into a
# folder keyed by the package version, the build flags, the compiler and the Python version.
# A copy is kept in the user's cache so another clone on the same machine does not compile again.
#
# Usage: scripts/build_llama.sh VENV_PYTHON            (build if needed, then install)
#        scripts/build_llama.sh --print-flags           (the CMake flags used)
#        scripts/build_llama.sh --print-key VENV_PYTHON (the cache key)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' requirements.txt)
# Targets the project does not use.
TARGETS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF"
case "$(uname -m)" in
  x86_64)
    # x86-64-v3 (Haswell / Zen and later): AVX2, FMA, F16C, BMI2. No AVX-512, no AMX, no AVX-VNNI.
    ISA="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF \
-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    ;;
  *)
    # Other architectures: the compiler's generic baseline for the architecture.
    ISA="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF"
    ;;
esac
# LLAMA_CMAKE_ARGS adds flags (e.g. -DGGML_NATIVE=ON to measure a native build); they are part of the key.
FLAGS="$TARGETS $ISA ${LLAMA_CMAKE_ARGS:-}"

if [[ "${1:-}" == "--print-flags" ]]; then
  echo "$FLAGS"
  exit 0
fi
MODE=install
if [[ "${1:-}" == "--print-key" ]]; then
  MODE=key
  shift
fi
PY=${1:?usage: scripts/build_llama.sh VENV_PYTHON}
PYTAG=$("$PY" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
CC_VERSION=$( (${CC:-cc} --version 2>/dev/null || echo unknown) | head -n 1)
KEY=$(printf '%s\n%s\n%s\n%s\n' "$VERSION" "$FLAGS" "$CC_VERSION" "$PYTAG" | sha256sum | cut -c1-16)
NAME="llama-cpp-python-$VERSION-$KEY"
if [[ $MODE == key ]]; then
  echo "$NAME"
  exit 0
fi

LOCAL_DIR=var/wheels/$NAME
USER_DIR=${SARAI_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sarai-eval/wheels}/$NAME
mkdir -p "$LOCAL_DIR"
if ! ls "$LOCAL_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  if ls "$USER_DIR"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    cp "$USER_DIR"/llama_cpp_python-*.whl "$LOCAL_DIR"/
    echo "llama-cpp-python $VERSION: portable wheel taken from $USER_DIR"
  else
    echo "llama-cpp-python $VERSION: compiling llama.cpp for a portable instruction set (a few minutes on 2 cores)…"
    echo "  flags: $FLAGS"
    start=$(date +%s)
    CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
      "$PY" -m pip wheel --quiet --no-cache-dir --no-deps --no-binary llama-cpp-python \
      "llama-cpp-python==$VERSION" -w "$LOCAL_DIR.tmp"
    mv "$LOCAL_DIR.tmp"/llama_cpp_python-*.whl "$LOCAL_DIR"/
    rmdir "$LOCAL_DIR.tmp"
    printf '%s\n' "$FLAGS" >"$LOCAL_DIR/cmake-args.txt"
    echo "  built in $(($(date +%s) - start)) s into $LOCAL_DIR"
    mkdir -p "$USER_DIR" && cp "$LOCAL_DIR"/llama_cpp_python-*.whl "$LOCAL_DIR/cmake-args.txt" "$USER_DIR"/ || true
  fi
  printf '%s\n' "$FLAGS" >"$LOCAL_DIR/cmake-args.txt"
fi
# Dependencies come from requirements.txt; this installs exactly the wheel built above.
"$PY" -m pip install --quiet --no-deps --force-reinstall --no-index --find-links "$LOCAL_DIR" "llama-cpp-python==$VERSION"
printf '%s\n' "$FLAGS" >"$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/llama_cpp/sarai-build-flags.txt"
