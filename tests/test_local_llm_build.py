"""The local LLM server is built to run on any x86-64 machine, not only the one that built it.

A build with native CPU flags dies with "Illegal instruction" on a machine (or VM) that
lacks what the builder had (AVX-512, AMX). ``scripts/local_llm.sh`` builds without them
and writes its CMake arguments to ``DEST/cmake-args.txt``; the server itself reports the
CPU features it was compiled for in its ``system_info`` line.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = Path(os.environ.get("PREFDISSECT_LLAMA_SERVER", ROOT / ".local-llm" / "llama-server"))
FORBIDDEN = re.compile(r"AVX512|AVX_VNNI|AMX|-march=native|-mcpu=native", re.I)


def script_arguments() -> list[str]:
    """The x86-64 CMake arguments the script builds with (its first cmake_args array)."""
    text = (ROOT / "scripts" / "local_llm.sh").read_text(encoding="utf-8")
    block = re.search(r"^cmake_args=\((.*?)^\)", text, re.S | re.M).group(1)
    return block.split()


def check_portable(arguments: list[str], source: str) -> None:
    assert "-DGGML_NATIVE=OFF" in arguments, f"{source}: native CPU flags are not off"
    enabled = [a for a in arguments if a.endswith("=ON") and FORBIDDEN.search(a)]
    assert not enabled, f"{source}: builds for {enabled}, which many x86-64 CPUs lack"
    assert not [a for a in arguments if "native" in a and "NATIVE=OFF" not in a], source


def test_the_script_builds_without_native_cpu_flags():
    arguments = script_arguments()
    check_portable(arguments, "scripts/local_llm.sh")
    assert "-DGGML_AVX512=OFF" in arguments and "-DGGML_AMX_INT8=OFF" in arguments


@pytest.mark.skipif(not (SERVER.parent / "cmake-args.txt").exists(),
                    reason=f"no build record at {SERVER.parent / 'cmake-args.txt'}; run "
                    "scripts/local_llm.sh .local-llm")
def test_the_built_server_was_built_without_native_cpu_flags():
    recorded = (SERVER.parent / "cmake-args.txt").read_text(encoding="utf-8").split()
    check_portable(recorded, str(SERVER.parent / "cmake-args.txt"))


@pytest.mark.skipif(not SERVER.exists(), reason=f"no local LLM server at {SERVER}; run "
                    "scripts/local_llm.sh .local-llm")
def test_the_server_reports_no_avx512_or_amx(tmp_path):
    """Its startup ``system_info`` line lists the CPU features compiled in (printed before
    the model loads, so a missing model file is enough to see it)."""
    process = subprocess.Popen(
        [str(SERVER), "-m", str(tmp_path / "none.gguf"), "--host", "127.0.0.1", "--port", "9",
         "-lv", "4", "-t", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line, deadline = "", time.monotonic() + 60
    try:
        for line in process.stdout:
            if "system_info" in line or time.monotonic() > deadline:
                break
    finally:
        process.kill()
        process.communicate()
    assert "system_info" in line and "AVX2 = 1" in line, line
    assert not FORBIDDEN.search(line), f"the server was built for {line.strip()}"
