"""Options shared by several commands, declared once.

This module imports nothing heavy (no pandas, no numpy): `prefdissect --help`
loads every command module, and each command imports the library only when it
runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StudyArg = Annotated[Path, typer.Argument(help="Study folder.", show_default=False)]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="Source format; see "
                                        "`prefdissect formats`.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Study folder to write.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", help="Your file's column names: TARGET=SOURCE,... e.g. query=instruction,"
    "response_a=output_1 (formats pairs, preference, ratings).", show_default=False)]
PairsPerPromptOpt = Annotated[int | None, typer.Option(
    "--pairs-per-prompt", help="ratings: pairs drawn per prompt (seeded; default: every two "
    "responses).", show_default=False)]
OverwriteOpt = Annotated[bool, typer.Option(
    "--overwrite", help="Replace a study of other data already in --out (its LLM log, the "
    "cache of paid answers, is kept).")]
SchemaOpt = Annotated[str | None, typer.Option(
    "--schema", help="Property schema YAML (default: the paper's 29).")]
JudgeOpt = Annotated[list[str] | None, typer.Option(
    "--judge", "-j", help="Judge to fit (repeat for several; default: all).")]
GroupOpt = Annotated[list[str] | None, typer.Option(
    "--group-by", "-g", help="Pair column or metadata key to fit one group per value of "
    "(repeatable); 'all' and any scenario column are always fitted.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for anything random (order "
                                      "randomisation, fold shuffles).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="Fitting engine: ep (default) or "
                                        "nuts (the paper's sampler; slow).")]
SoftOpt = Annotated[bool, typer.Option("--soft-labels", help="Fit the judge's P(A) where it "
                                       "gives one, instead of its hard choice.")]
MinPairsOpt = Annotated[int, typer.Option("--min-pairs", help="Skip groups with fewer "
                                          "usable pairs.")]
FoldsOpt = Annotated[int, typer.Option("--folds", help="Folds for held-out accuracy against "
                                       "null baselines (0: none).")]
PaperOpt = Annotated[bool, typer.Option("--paper-protocol", help="Fit as the paper did: the "
                                        "average of the fold fits, no model terms, hard "
                                        "labels, no property left out (--engine nuts for "
                                        "its sampler).")]
MissingOpt = Annotated[float, typer.Option(
    "--max-missing", help="Leave out properties whose annotation failed for more than this "
    "share of pairs (instead of leaving out those pairs).")]
TermsOpt = Annotated[str, typer.Option(
    "--model-terms", help="Model terms fitted beside the properties: auto (a term for a "
    "fixed baseline on side A, else none), none (the paper's model), baseline (one 'side A' "
    "term), models (one strength per model, Bradley-Terry).")]
AnchorOpt = Annotated[str | None, typer.Option(
    "--anchor-model", help="With --model-terms models: the model whose strength is fixed "
    "at 0 (default: a fixed baseline, else the most frequent model).")]
ThreadsOpt = Annotated[int, typer.Option(
    "--threads", help="BLAS/OpenMP threads while fitting (1 is fastest on a shared "
    "machine).")]

# -- LLM work -------------------------------------------------------------------------
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name on the "
                                              "server.")]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1 "
    "(default: $OPENAI_BASE_URL).", envvar="OPENAI_BASE_URL", show_envvar=False)]
KeyOpt = Annotated[str | None, typer.Option(
    "--api-key", help="API key (default: $PREFDISSECT_API_KEY or $OPENAI_API_KEY); never "
    "stored.", show_default=False)]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1,
                                             help="Requests in flight.")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", min=0.001, help="Seconds one request attempt may take in all, until the "
    "last byte of the answer.")]
AttemptsOpt = Annotated[int, typer.Option("--max-attempts", min=1, help="Attempts per "
                                          "request before it is recorded as failed.")]
MaxWaitOpt = Annotated[float, typer.Option(
    "--max-wait", min=0.0, help="Longest wait in seconds between two attempts; a server "
    "asking (Retry-After) for a longer one fails the request instead.")]
PricesOpt = Annotated[Path | None, typer.Option(
    "--prices", help="YAML of model: {prompt: $, completion: $} per million tokens.")]
DryOpt = Annotated[bool, typer.Option("--dry-run", help="Count requests, tokens and cost; "
                                      "send nothing.")]
ExportOpt = Annotated[Path | None, typer.Option(
    "--batch-export", help="Write the requests as an OpenAI batch JSONL file instead of "
    "sending them.")]
MaxTokensOpt = Annotated[list[str] | None, typer.Option(
    "--max-tokens", help="LLM: cap a step's answer, STEP=N (repeatable; steps: query, free, "
    "aware, specific, errors, reference).")]
ReferenceOpt = Annotated[str | None, typer.Option(
    "--reference", "-r", help="Add the paper's 33 judges: a folder of "
    "model_<group>_fitted_paras.jsonl files, a URL, or 'paper'.")]

# -- reward models --------------------------------------------------------------------
RewardModelOpt = Annotated[Path | None, typer.Option(
    "--reward-model", help="Judge with a local reward model (a transformers "
    "sequence-classification folder): P(A) = sigmoid(r_A - r_B).")]
ScoresOpt = Annotated[Path | None, typer.Option(
    "--scores", help="Import a reward model's scores: a CSV / JSONL / Parquet file of "
    "pair_id, score_a, score_b (needs --name).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Reward model: auto, cpu or cuda.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Reward model: responses "
                                           "scored per forward pass.")]
PythonOpt = Annotated[str | None, typer.Option(
    "--python", help="Judge with a Python function, FILE.py:FUNCTION, called as f(query, "
    "response_a, response_b) -> P(A) in [0, 1] or 'A'/'B'/'tie' (both orders are asked).")]
