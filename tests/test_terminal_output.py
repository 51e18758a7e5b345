"""Output read through a pipe (`| cat`, `| tee`, CI logs) reads like the terminal's, and
P(preferred) is printed one way by every command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, columns: str | None = None) -> str:
    """Run the CLI in a subprocess whose stdout is a pipe (as `prefdissect ... | cat`)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(ROOT / "src")
    if columns:
        env["COLUMNS"] = columns
    done = subprocess.run([sys.executable, "-m", "prefdissect", *args], capture_output=True,
                          stdin=subprocess.DEVNULL, env=env, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_piped_summary_is_not_squeezed_and_p_preferred_reads_alike(tmp_path, cli):
    from prefdissect.demo import simulate, write_pairs

    source = write_pairs(simulate(500, seed=1), tmp_path / "pairs.jsonl")
    study = tmp_path / "study"
    text = _run("dissect", str(source), "--out", str(study), "--folds", "0", "--min-pairs",
                "10")
    lines = text.splitlines()
    judge = json.loads((study / "summary.json").read_text())["judges"]["demo-judge"]
    assert judge["raises"] and judge["other_groups"]
    for effect in judge["raises"]:  # one line per effect, nothing wrapped or cut
        assert any(effect["label"] in line and f"{100 * effect['probability']:.1f}%" in line
                   for line in lines), effect["label"]
    for group in judge["other_groups"]:
        row = [line for line in lines if line.startswith(group["group"])]
        assert row and all(label in row[0] for label, _ in group["raises"]), group["group"]
    assert max(map(len, lines)) > 80
    # steer shows the favourite property's P(preferred) and interval as dissect does
    steer = cli("exploit", "steer", str(study), "--top-k", "1")
    assert steer.code == 0, steer.err
    top = pd.read_csv(study / "profiles.csv").query("group == 'all'").sort_values("mean")
    shown = [f"{100 / (1 + math.exp(-top.iloc[-1][c])):.1f}" for c in ("mean", "lower",
                                                                       "upper")]
    cells = (f"{shown[0]}%", f"{shown[1]}-{shown[2]}%")
    for output in (steer.out, text):
        assert any(all(c in line for c in cells) for line in output.splitlines()), cells


def test_columns_is_respected_when_set():
    text = _run("properties", columns="70")
    assert max(map(len, text.splitlines())) <= 70
    assert max(map(len, _run("properties").splitlines())) > 80
