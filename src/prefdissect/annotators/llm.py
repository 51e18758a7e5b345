"""The LLM annotator: the paper's five-step scheme against any OpenAI-compatible model.

Per pair:

1. **query** — what the request is like: clear intent? feelings? explicit
   constraints, stances, mistakes or biases? and its scenario (one of the 11);
2. **free** — 0-3 ratings of both responses on the 18 properties that need no
   query (harmless ... clear, information-rich: rated without the query, so that
   relevance does not leak into it; repetitiveness for non-repetitive);
3. **aware** — 0-3 ratings that need the query (relevant on its own four levels, novel);
4. **specific** — only where step 1 found the trait: clarifies intent, empathetic,
   each constraint met (mean), support of each stance (mean of -2..2), handling of
   each mistake (mean of 0..3); elsewhere the property is 'not applicable';
5. **errors** — minor / moderate / severe error counts of each response, checked
   against the pair's reference answer, or the answer ``reference_model`` gives to the
   bare request when the data has none (up to 4,096 tokens, as the paper's). The
   annotator says per response whether it can check it reliably; an answer with
   nothing to get wrong (chit-chat, a poem) is checked and has no errors, so its pair
   compares as a tie. Where either response cannot be checked, that pair's three
   error comparisons are 'not applicable' (the schema leaves such pairs out of fits,
   as the paper did).

``lengthy`` comes with step 2 but needs no request: each pair's word counts, the
source's own where it carries them, else :func:`prefdissect.words.count_words` (the
heuristic's count).

Output is JSON constrained by a schema where the server supports structured
output, else parsed tolerantly; an unusable answer gets one repair request, and
what still fails is stored with its reason. The answers that could not be used
are handed back to the client (:meth:`~prefdissect.llm.client.LLMClient.reject`),
so they count as failed and the next run asks them again; an answer cut off at
its step's ``max_tokens`` is not asked again unchanged (the reason says which
``--max-tokens`` to raise). ``swap_check`` re-asks the rating
steps with A and B exchanged and reports each property's flip rate.

After :meth:`annotate`, ``query_info_`` holds step 1 (traits, scenario, lists,
generated references) and ``consistency_`` the flip rates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import prompts
from ..annotations import ANNOTATION_COLUMNS, FAILED, NOT_APPLICABLE, OK, Progress
from ..errors import InputError
from ..llm.answers import answer_text, finish_reason
from ..llm.cache import Exchange
from ..llm.client import LLMClient, Plan, Request
from ..llm.parsing import ParseError, parse_json, repair_messages, strict_format
from ..pairs import Pair, frame_to_pairs
from ..properties import PropertySchema
from ..registry import register
from ..words import pair_word_counts
from .llm_schemas import (
    ERROR_PROPS,
    ERRORS_SCHEMA,
    MISTAKE_LEVELS,
    QUERY_SCHEMA,
    STANCE_LEVELS,
    TRAIT_OF,
    pair_schema,
    rating,
)

STEPS = ("query", "free", "aware", "specific", "errors")
LENGTH = "lengthy"
MAX_TOKENS = {"query": 600, "free": 700, "aware": 200, "specific": 400, "errors": 1000,
              "reference": 4096}
_SIDES = ("response_a", "response_b")
REQUIRED = {"query": ("query",), "free": (*_SIDES, "properties"),
            "aware": (*_SIDES, "properties"), "specific": (*_SIDES, "items"),
            "errors": (*_SIDES, "reference"), "reference": ("query",)}
"""Placeholders each annotation prompt must use (else its requests would not differ)."""
QUERY_INFO_COLUMNS = ("pair_id", "intent_unclear", "expresses_feelings",
                      "explicit_constraints", "explicit_stances", "contains_mistakes",
                      "scenario", "details", "reference", "status", "reason", "model",
                      "prompt_version")
"""Columns of the query-information table (one row per pair)."""


@dataclass
class _Job:
    """One step's request for one pair, and what came of it."""

    step: str
    pair: Pair
    request: Request
    schema: dict[str, Any] | None
    swapped: bool = False
    items: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    text: str | None = None
    error: str | None = None
    rejects: list[tuple[str, str, bool]] = field(default_factory=list)
    """(request key, why its answer is unusable, whether asking again cannot help)."""


def _content(exchange: Exchange | None) -> str | None:
    if exchange is None or exchange.status != "ok":
        return None
    return answer_text(exchange.response)


def _rejects_schema(exchange: Exchange | None) -> bool:
    """Whether a request failed because the server refuses ``response_format``."""
    if exchange is None or exchange.status == "ok" or not exchange.error:
        return False
    text = exchange.error.lower()
    return text.startswith(("http 400", "http 422", "http 500")) and any(
        word in text for word in ("response_format", "json_schema", "schema", "grammar"))


@register("annotator", "llm", "the paper's five annotation steps by any OpenAI-compatible "
          "model (needs --model and --base-url)")
class LLMAnnotator:
    """Annotate pairs with an LLM; see the module docstring for the steps.

    Parameters
    ----------
    client
        The :class:`LLMClient` for the model's server.
    model
        Model name sent with every request.
    reference_model
        Model that writes reference answers where pairs have none (default: ``model``).
    structured
        Ask for schema-constrained JSON (``response_format``); turn off for servers
        that reject it.
    swap_check
        Also rate with A and B exchanged and measure each property's flip rate.
    steps
        Which of :data:`STEPS` to run.
    prompt_file
        A YAML file replacing the built-in prompts (same keys).
    max_tokens
        Per-step caps on the answer length, overriding :data:`MAX_TOKENS`.
    """

    name = "llm"

    def __init__(self, client: LLMClient, model: str, *, reference_model: str | None = None,
                 structured: bool = True, swap_check: bool = False,
                 steps: tuple[str, ...] = STEPS, prompt_file: str | None = None,
                 max_tokens: dict[str, int] | None = None):
        self.client = client
        self.max_tokens = {**MAX_TOKENS, **(max_tokens or {})}
        self.notes_: list[str] = []
        self.model = model
        self.reference_model = reference_model or model
        self.structured = structured
        self.swap_check = swap_check
        self.steps = tuple(steps)
        self.prompts, self.version = prompts.load("annotate", prompt_file)
        source = prompt_file or "annotate.yaml"
        prompts.check(self.prompts, ("system", "query", "free", "aware", "specific", "errors",
                                     "reference"),
                      ("query", "response_a", "response_b", "properties", "items",
                       "reference"), source, "--prompts", REQUIRED)
        for key in ("free_properties", "aware_properties", "specific_items"):
            if not isinstance(self.prompts.get(key), dict):
                raise InputError(source, f"has no '{key}' mapping", "give --prompts a YAML "
                                 "file laid out like the built-in annotate.yaml", field=key)

    # -- what gets measured ------------------------------------------------------------
    def measures(self, schema: PropertySchema) -> list[str]:
        """Return the schema properties the enabled steps give values for."""
        known = {"free": list(self.prompts["free_properties"]),
                 "aware": list(self.prompts["aware_properties"]),
                 "specific": list(TRAIT_OF), "errors": list(ERROR_PROPS.values())}
        wanted = {p for step in self.steps for p in known.get(step, [])}
        if "free" in self.steps:  # counted from the texts with the query-free ratings
            wanted.add(LENGTH)
        return [p for p in schema.names if p in wanted]

    # -- building requests ---------------------------------------------------------------
    def _chat(self, step: str, user: str, schema: dict | None, model: str | None = None
              ) -> Request:
        body: dict[str, Any] = {
            "model": model or self.model,
            "messages": [{"role": "system", "content": self.prompts["system"]},
                         {"role": "user", "content": user}],
            "temperature": 0, "max_tokens": self.max_tokens[step]}
        if schema is not None and self.structured:
            body["response_format"] = strict_format(f"prefdissect_{step}", schema)
        return Request("chat", body)

    def _sides(self, pair: Pair, swapped: bool) -> dict[str, str]:
        a, b = (pair.response_b, pair.response_a) if swapped else (pair.response_a,
                                                                    pair.response_b)
        return {"query": pair.prompt_text(), "response_a": a, "response_b": b}

    def _rating_job(self, step: str, pair: Pair, wanted: list[str], swapped: bool) -> _Job:
        questions = self.prompts[f"{step}_properties"]
        lines = "\n".join(f"- {questions[p]}" for p in wanted)
        schema = pair_schema(wanted, rating())
        user = prompts.render(self.prompts[step], properties=lines, **self._sides(pair, swapped))
        return _Job(step, pair, self._chat(step, user, schema), schema, swapped)

    def _specific_job(self, pair: Pair, info: dict[str, Any], wanted: list[str]) -> _Job | None:
        texts = self.prompts["specific_items"]
        keys, values, lines = [], {}, []
        if "clarifies_intent" in wanted and not info["intent_clear"]:
            keys.append("clarifies_intent")
            values["clarifies_intent"] = rating()
            lines.append(f"- clarifies_intent: {texts['clarifies_intent']}")
        if "empathetic" in wanted and info["expresses_feelings"]:
            keys.append("empathetic")
            values["empathetic"] = rating()
            lines.append(f"- empathetic: {texts['empathetic']}")
        lists = (("satisfies_constraints", "explicit_constraints", "constraint", rating()),
                 ("supports_stances", "explicit_stances", "stance",
                  {"type": "string", "enum": list(STANCE_LEVELS)}),
                 ("corrects_mistakes", "mistakes_or_biases", "mistake",
                  {"type": "string", "enum": list(MISTAKE_LEVELS)}))
        for prop, source, kind, value in lists:
            if prop not in wanted:
                continue
            for i, item in enumerate(info[source], start=1):
                key = f"{kind}_{i}"
                keys.append(key)
                values[key] = value
                lines.append(f"- {key}: " + prompts.render(texts[kind], item=item))
        if not keys:
            return None
        schema = {"type": "object", "required": keys, "additionalProperties": False,
                  "properties": {k: pair_schema([k], values[k])["properties"][k]
                                 for k in keys}}
        user = prompts.render(self.prompts["specific"], items="\n".join(lines),
                              **self._sides(pair, False))
        return _Job("specific", pair, self._chat("specific", user, schema), schema,
                    items={"keys": keys})

    def _reference_request(self, pair: Pair) -> Request:
        user = prompts.render(self.prompts["reference"], query=pair.prompt_text())
        return Request("chat", {"model": self.reference_model, "temperature": 0,
                                "max_tokens": self.max_tokens["reference"],
                                "messages": [{"role": "user", "content": user}]})

    # -- running ---------------------------------------------------------------------------
    def _settle(self, jobs: list[_Job], fetch: Callable[[list[Request]], dict[str, Exchange]],
                repair: bool = True) -> None:
        """Get answers for ``jobs`` and parse them, with one repair round for failures."""
        outcomes = fetch([j.request for j in jobs])
        refused = [j for j in jobs if _rejects_schema(outcomes.get(j.request.key))]
        if refused and self.structured and len(refused) == sum(
                1 for j in jobs if "response_format" in j.request.body):
            # The server does not do structured output: ask again without it, and parse
            # tolerantly from now on.
            self.structured = False
            self.notes_.append("the server rejected structured output (response_format); "
                               "answers were parsed from plain text instead")
            self.client.tally.replaced([j.request.key for j in jobs])
            for job in jobs:
                body = {k: v for k, v in job.request.body.items() if k != "response_format"}
                job.request = Request(job.request.endpoint, body)
            outcomes = fetch([j.request for j in jobs])
        retry = []
        for job in jobs:
            exchange = outcomes.get(job.request.key)
            if exchange is None:
                job.error = "pending"  # only in dry runs and batch exports
                continue
            if exchange.status != "ok":
                job.error = f"request failed: {exchange.error}"
                continue
            job.text = _content(exchange)
            if job.schema is None:
                job.result = {"text": job.text or ""}
                if not (job.text or "").strip():
                    job.error = "the model's reference answer was empty"
                    job.rejects.append((job.request.key, job.error, False))
                continue
            try:
                job.result = parse_json(job.text, job.schema)
            except ParseError as exc:
                if finish_reason(exchange.response) == "length":  # a repair would be cut off too
                    job.error = self._cut_off(job, exc)
                    job.rejects.append((job.request.key, job.error, True))
                    continue
                job.error = f"unusable answer: {exc}"
                job.rejects.append((job.request.key, job.error, False))
                if repair:
                    retry.append((job, str(exc)))
        if not retry:
            return
        fixes = []
        for job, problem in retry:
            body = dict(job.request.body)
            body["messages"] = repair_messages(body["messages"], job.text or "", problem,
                                               job.schema)
            fixes.append(Request("chat", body))
        answers = fetch(fixes)
        for (job, _), fix in zip(retry, fixes):
            exchange = answers.get(fix.key)
            if exchange is None:
                job.error = "pending"
                continue
            try:
                job.result = parse_json(_content(exchange), job.schema)
                job.error = None
                job.rejects.clear()
            except ParseError as exc:
                if exchange.status == "ok" and finish_reason(exchange.response) == "length":
                    job.error = self._cut_off(job, exc, "repair answer")
                    job.rejects.append((fix.key, job.error, True))
                else:
                    job.error = f"unusable answer after one repair request: {exc}"
                    job.rejects.append((fix.key, job.error, False))
            if exchange.status != "ok":
                job.error = f"repair request failed: {exchange.error}"
                job.rejects.clear()  # the repair request is asked again as it is

    @staticmethod
    def _cut_off(job: _Job, problem: Exception, what: str = "answer") -> str:
        cap = job.request.body.get("max_tokens")
        return (f"{what} cut off at max_tokens={cap} ({problem}); raise --max-tokens "
                f"{job.step}=N (the same request would be cut off again)")

    def _reject_unusable(self, jobs: dict[str, list[_Job]]) -> None:
        """Hand the answers that left a job without a result back to the client."""
        for step_jobs in jobs.values():
            for job in step_jobs:
                if job.result is None or job.error:
                    for key, reason, final in job.rejects:
                        self.client.reject(key, reason, final)

    def _execute(self, pairs: list[Pair], schema: PropertySchema,
                 fetch: Callable[[list[Request]], dict[str, Exchange]]) -> dict[str, list[_Job]]:
        wanted = self.measures(schema)
        jobs: dict[str, list[_Job]] = {step: [] for step in (*STEPS, "reference", "swap")}
        need_query = "query" in self.steps
        if need_query:
            jobs["query"] = [_Job("query", p, self._chat(
                "query", prompts.render(self.prompts["query"], query=p.prompt_text()),
                QUERY_SCHEMA), QUERY_SCHEMA) for p in pairs]
        if "errors" in self.steps:
            jobs["reference"] = [_Job("reference", p, self._reference_request(p), None)
                                 for p in pairs if not p.reference]
        self._settle(jobs["query"] + jobs["reference"], fetch)
        info = {j.pair.id: j.result for j in jobs["query"] if j.result is not None}
        references = {j.pair.id: j.result["text"] for j in jobs["reference"] if j.result}
        for step in ("free", "aware"):
            props = [p for p in wanted if p in self.prompts[f"{step}_properties"]]
            if step in self.steps and props:
                jobs[step] = [self._rating_job(step, p, props, False) for p in pairs]
                if self.swap_check:
                    jobs["swap"] += [self._rating_job(step, p, props, True) for p in pairs]
        if "specific" in self.steps:
            for pair in pairs:
                if pair.id in info:
                    job = self._specific_job(pair, info[pair.id], wanted)
                    if job is not None:
                        jobs["specific"].append(job)
        if "errors" in self.steps:
            for pair in pairs:
                reference = pair.reference or references.get(pair.id)
                if reference:
                    user = prompts.render(self.prompts["errors"], reference=reference,
                                          **self._sides(pair, False))
                    jobs["errors"].append(_Job("errors", pair, self._chat(
                        "errors", user, ERRORS_SCHEMA), ERRORS_SCHEMA))
        self._settle([j for s in ("free", "aware", "specific", "errors", "swap")
                      for j in jobs[s]], fetch)
        return jobs

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None) -> pd.DataFrame:
        """Run the steps for every pair; return the annotation table."""
        records = frame_to_pairs(pairs)
        jobs = self._execute(records, schema,
                             lambda requests: self.client.run(requests, progress))
        self._reject_unusable(jobs)
        self.query_info_ = self._query_info(records, jobs)
        self.consistency_ = self._consistency(jobs)
        return self._annotations(records, schema, jobs)

    def plan(self, pairs: pd.DataFrame, schema: PropertySchema) -> tuple[Plan, int]:
        """Count what a live run would send now (the dry run), and the requests that wait.

        Requests whose inputs are known (or already answered in the log) are counted
        exactly; requests that depend on answers not yet in the log (step 4 needs
        step 1, step 5 needs a reference answer) cannot be built yet: the second
        number counts them, one per pair and step (repairs of unusable answers come
        on top).
        """
        found, jobs = self._collect(pairs, schema)
        # A later step waits only where the step it needs has no answer yet; where that
        # step got an answer it could not use, the later request can never be built.
        waiting = 0
        if "specific" in self.steps:
            waiting += sum(j.error == "pending" for j in jobs["query"])
        if "errors" in self.steps:
            waiting += sum(j.error == "pending" for j in jobs["reference"])
        return self.client.plan(found), waiting

    def requests(self, pairs: pd.DataFrame, schema: PropertySchema) -> list[Request]:
        """Every request that can be built now (dependencies answered from the log only)."""
        return self._collect(pairs, schema)[0]

    def _collect(self, pairs: pd.DataFrame, schema: PropertySchema):
        found: dict[str, Request] = {}

        def collect(requests: list[Request]) -> dict[str, Exchange]:
            found.update((r.key, r) for r in requests)
            return self._cached(requests)

        jobs = self._execute(frame_to_pairs(pairs), schema, collect)
        return list(found.values()), jobs

    def _cached(self, requests: list[Request]) -> dict[str, Exchange]:
        return self.client.lookup(requests)

    # -- turning answers into tables -------------------------------------------------------
    def _row(self, pair_id: str, prop: str, a: float | None, b: float | None, status: str,
             reason: str | None = None) -> dict[str, Any]:
        return {"pair_id": pair_id, "property": prop, "value_a": a, "value_b": b,
                "status": status, "reason": reason, "annotator": self.name,
                "model": self.model, "prompt_version": self.version}

    def _annotations(self, pairs: list[Pair], schema: PropertySchema,
                     jobs: dict[str, list[_Job]]) -> pd.DataFrame:
        wanted = set(self.measures(schema))
        rows: list[dict[str, Any]] = []
        for step in ("free", "aware"):
            for job in jobs[step]:
                props = [p for p in self.prompts[f"{step}_properties"] if p in wanted]
                for prop in props:
                    if job.result is None:
                        rows.append(self._row(job.pair.id, prop, None, None, FAILED, job.error))
                    else:
                        a, b = job.result[prop]
                        rows.append(self._row(job.pair.id, prop, a, b, OK))
        if "specific" in self.steps:
            rows += self._specific_rows(pairs, jobs, wanted)
        if "errors" in self.steps:
            rows += self._error_rows(pairs, jobs, wanted)
        if LENGTH in wanted:
            rows += [self._row(pair.id, LENGTH, *pair_word_counts(
                pair.response_a, pair.response_b, pair.metadata), OK) for pair in pairs]
        frame = pd.DataFrame(rows, columns=list(ANNOTATION_COLUMNS))
        frame["value_a"] = frame["value_a"].astype(float)
        frame["value_b"] = frame["value_b"].astype(float)
        return frame

    def _specific_rows(self, pairs, jobs, wanted) -> list[dict[str, Any]]:
        rows = []
        info = {j.pair.id: j for j in jobs["query"]}
        specific = {j.pair.id: j for j in jobs["specific"]}
        kinds = {"satisfies_constraints": ("constraint", lambda v: float(v)),
                 "supports_stances": ("stance", lambda v: float(STANCE_LEVELS[v])),
                 "corrects_mistakes": ("mistake", lambda v: float(MISTAKE_LEVELS[v]))}
        for pair in pairs:
            query = info.get(pair.id)
            job = specific.get(pair.id)
            for prop in (p for p in TRAIT_OF if p in wanted):
                if query is None or query.result is None:
                    reason = query.error if query else "query step not run"
                    rows.append(self._row(pair.id, prop, None, None, FAILED,
                                          f"query information missing: {reason}"))
                    continue
                keys = [] if job is None else job.items["keys"]
                if prop in kinds:
                    kind, convert = kinds[prop]
                    mine = [k for k in keys if k.startswith(f"{kind}_")]
                else:
                    mine = [prop] if prop in keys else []
                if not mine:
                    rows.append(self._row(pair.id, prop, None, None, NOT_APPLICABLE))
                elif job.result is None:
                    rows.append(self._row(pair.id, prop, None, None, FAILED, job.error))
                else:
                    convert = kinds[prop][1] if prop in kinds else float
                    a = np.mean([convert(job.result[k][0]) for k in mine])
                    b = np.mean([convert(job.result[k][1]) for k in mine])
                    rows.append(self._row(pair.id, prop, a, b, OK))
        return rows

    def _error_rows(self, pairs, jobs, wanted) -> list[dict[str, Any]]:
        rows = []
        checked = {j.pair.id: j for j in jobs["errors"]}
        references = {j.pair.id: j for j in jobs["reference"]}
        for pair in pairs:
            job = checked.get(pair.id)
            for severity, prop in ERROR_PROPS.items():
                if prop not in wanted:
                    continue
                if job is None:
                    ref = references.get(pair.id)
                    if ref is None:
                        reason = "no reference answer: none given"
                    elif ref.error:
                        reason = f"no reference answer: {ref.error}"
                    else:
                        reason = "no reference answer: the model's reference answer was empty"
                    rows.append(self._row(pair.id, prop, None, None, FAILED, reason))
                elif job.result is None:
                    rows.append(self._row(pair.id, prop, None, None, FAILED, job.error))
                elif not (job.result["checkable_a"] and job.result["checkable_b"]):
                    sides = [s for s in "ab" if not job.result[f"checkable_{s}"]]
                    which = "either response" if len(sides) == 2 else \
                        f"response {sides[0].upper()}"
                    rows.append(self._row(pair.id, prop, None, None, NOT_APPLICABLE,
                                          f"the annotator could not reliably check {which}"))
                else:
                    a = sum(e["severity"] == severity for e in job.result["errors_a"])
                    b = sum(e["severity"] == severity for e in job.result["errors_b"])
                    rows.append(self._row(pair.id, prop, a, b, OK))
        return rows

    def _query_info(self, pairs: list[Pair], jobs: dict[str, list[_Job]]) -> pd.DataFrame:
        references = {j.pair.id: j.result["text"] for j in jobs["reference"] if j.result}
        rows = []
        for job in jobs["query"]:
            r = job.result
            rows.append({
                "pair_id": job.pair.id,
                "intent_unclear": None if r is None else not r["intent_clear"],
                "expresses_feelings": None if r is None else r["expresses_feelings"],
                "explicit_constraints": None if r is None else bool(r["explicit_constraints"]),
                "explicit_stances": None if r is None else bool(r["explicit_stances"]),
                "contains_mistakes": None if r is None else bool(r["mistakes_or_biases"]),
                "scenario": None if r is None else r["scenario"],
                "details": None if r is None else json.dumps(r, ensure_ascii=False),
                "reference": references.get(job.pair.id),
                "status": OK if r is not None else FAILED, "reason": job.error,
                "model": self.model, "prompt_version": self.version})
        return pd.DataFrame(rows, columns=list(QUERY_INFO_COLUMNS))

    def _consistency(self, jobs: dict[str, list[_Job]]) -> pd.DataFrame:
        """Per property: how often the comparison changes when A and B are exchanged."""
        if not jobs["swap"]:
            return pd.DataFrame(columns=["property", "pairs", "flip_rate"])
        original = {(j.step, j.pair.id): j.result for j in jobs["free"] + jobs["aware"]}
        counts: dict[str, list[int]] = {}
        for job in jobs["swap"]:
            first = original.get((job.step, job.pair.id))
            if first is None or job.result is None:
                continue
            for prop, (a, b) in first.items():
                swapped_a, swapped_b = job.result[prop]  # B was shown first here
                before = np.sign(a - b)
                after = np.sign(swapped_b - swapped_a)
                counts.setdefault(prop, []).append(int(before != after))
        return pd.DataFrame([(p, len(v), float(np.mean(v))) for p, v in counts.items()],
                            columns=["property", "pairs", "flip_rate"])
