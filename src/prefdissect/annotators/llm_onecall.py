"""The one-call plan: every property of a pair in one LLM request.

The paper's plan (:mod:`prefdissect.annotators.llm`) asks up to five requests per
pair, each repeating the query and both responses. The one-call plan asks once: a
single structured answer holds the 0-3 ratings of both responses on every rating
property, the query's traits with the query-specific judgments (each explicit
constraint, stance and mistake with how A and B handle it), and the error lists
by severity. Its questions are the five-step plan's own (``annotate.yaml``:
``free_properties``, ``aware_properties``, ``specific_items``), so the two plans
ask the same things; a schema property of one's own is asked its ``question``
(this is how properties an LLM proposed in ``prefdissect discover`` are measured).

Differences a reader should know: errors are checked against the pair's reference
answer where it has one, else against the model's own knowledge (no separate
reference request); there is no swap check. ``lengthy`` is the pairs' word counts,
as in the five-step plan (no request). Values are stored under the annotator
name ``llm-onecall``, so ``prefdissect agreement --annotators llm llm-onecall``
compares the two plans property by property.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import prompts
from ..annotations import ANNOTATION_COLUMNS, FAILED, NOT_APPLICABLE, OK, Progress
from ..llm.client import LLMClient, Request
from ..pairs import Pair, frame_to_pairs
from ..properties import PropertySchema
from ..reference import SCENARIOS
from ..registry import register
from ..words import pair_word_counts
from .llm import LENGTH, LLMAnnotator, _Job
from .llm_schemas import (
    ERROR_PROPS,
    ERRORS_SCHEMA,
    LIST_CAPS,
    MISTAKE_LEVELS,
    STANCE_LEVELS,
    TRAIT_OF,
    pair_schema,
    rating,
)

STEP = "onecall"
PLAN_FILE = "annotate_onecall"
_LISTS = {"satisfies_constraints": ("constraints", lambda v: float(v)),
          "supports_stances": ("stances", lambda v: float(STANCE_LEVELS[v])),
          "corrects_mistakes": ("mistakes", lambda v: float(MISTAKE_LEVELS[v]))}
_DIRECT = {"clarifies_intent": "intent_clear", "empathetic": "expresses_feelings"}


def result_ratings(result: dict[str, Any] | None) -> dict[str, Any]:
    """Return the ratings of an answer (none for a failed one)."""
    return {} if result is None else result.get("ratings", {})


def _items(value: dict[str, Any], cap: int) -> dict[str, Any]:
    item = {"type": "object", "properties": {"item": {"type": "string"}, "a": value, "b": value},
            "required": ["item", "a", "b"], "additionalProperties": False}
    return {"type": "array", "items": item, "maxItems": cap}


@register("annotator", "llm-onecall", "every property in one LLM request per pair (annotate "
          "--annotator llm --plan one-call; needs --model and --base-url)")
class OneCallAnnotator(LLMAnnotator):
    """Annotate pairs with one LLM request each; see the module docstring.

    Parameters
    ----------
    client
        The :class:`LLMClient` for the model's server.
    model
        Model name sent with every request.
    structured
        Ask for schema-constrained JSON (``response_format``).
    prompt_file
        A YAML file replacing ``annotate.yaml`` (the property questions).
    plan_file
        A YAML file replacing ``annotate_onecall.yaml`` (the request's layout).
    max_tokens
        Cap on the answer's length (default: sized to the properties asked).
    """

    name = "llm-onecall"

    def __init__(self, client: LLMClient, model: str, *, structured: bool = True,
                 prompt_file: str | None = None, plan_file: str | None = None,
                 max_tokens: int | None = None):
        super().__init__(client, model, structured=structured, steps=(),
                         prompt_file=prompt_file)
        self.texts, version = prompts.load(PLAN_FILE, plan_file)
        prompts.check(self.texts, (STEP, "reference", "ratings", "query", "errors"),
                      ("query", "response_a", "response_b", "reference", "sections",
                       "properties", "stance_levels", "mistake_levels", "scenarios",
                       "specific"), plan_file or f"{PLAN_FILE}.yaml", "--prompts")
        self.version = f"{self.version}+{version}"
        self.cap = max_tokens

    # -- what gets asked ----------------------------------------------------------------
    def _questions(self, schema: PropertySchema) -> dict[str, str]:
        """Return the rating properties of ``schema`` and the line each is asked with."""
        known = {**self.prompts["free_properties"], **self.prompts["aware_properties"]}
        out = {}
        for prop in schema.properties:
            if prop.question:
                out[prop.name] = f"{prop.name}: {prop.question}"
            elif prop.name in known:
                out[prop.name] = known[prop.name]
        return out

    def measures(self, schema: PropertySchema) -> list[str]:
        """Return the schema properties one request gives values for."""
        asked = set(self._questions(schema)) | set(TRAIT_OF) | set(ERROR_PROPS.values())
        if LENGTH in schema.names and not schema.get(LENGTH).question:
            asked.add(LENGTH)  # word counts, as the five-step plan gives them: no request
        return [p for p in schema.names if p in asked]

    def _layout(self, schema: PropertySchema) -> tuple[dict[str, str], list[str], bool, bool]:
        wanted = set(self.measures(schema))
        questions = self._questions(schema)
        specific = [p for p in _DIRECT if p in wanted]
        need_query = bool(wanted & set(TRAIT_OF))
        need_errors = bool(wanted & set(ERROR_PROPS.values()))
        return questions, specific, need_query, need_errors

    def answer_schema(self, schema: PropertySchema) -> dict[str, Any]:
        """Return the JSON schema of the one answer for ``schema``'s properties."""
        questions, specific, need_query, need_errors = self._layout(schema)
        parts: dict[str, Any] = {}
        if questions:
            parts["ratings"] = pair_schema(list(questions), rating())
        if need_query:
            parts["query"] = {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "intent_clear": {"type": "boolean"},
                    "expresses_feelings": {"type": "boolean"},
                    "constraints": _items(rating(), LIST_CAPS["explicit_constraints"]),
                    "stances": _items({"type": "string", "enum": list(STANCE_LEVELS)},
                                      LIST_CAPS["explicit_stances"]),
                    "mistakes": _items({"type": "string", "enum": list(MISTAKE_LEVELS)},
                                       LIST_CAPS["mistakes_or_biases"]),
                    "scenario": {"type": "string", "enum": list(SCENARIOS)}},
                "required": ["intent_clear", "expresses_feelings", "constraints", "stances",
                             "mistakes", "scenario"]}
            if specific:
                parts["specific"] = pair_schema(specific, rating())
        if need_errors:
            parts["errors"] = ERRORS_SCHEMA
        return {"type": "object", "properties": parts, "required": list(parts),
                "additionalProperties": False}

    def _sections(self, schema: PropertySchema) -> str:
        questions, specific, need_query, need_errors = self._layout(schema)
        texts = []
        if questions:
            lines = "\n".join(f"- {q}" for q in questions.values())
            texts.append(prompts.render(self.texts["ratings"], properties=lines))
        if need_query:
            items = self.prompts["specific_items"]
            lines = "\n".join(f"- {p}: {items[p]}" for p in specific)
            texts.append(prompts.render(
                self.texts["query"], stance_levels=", ".join(STANCE_LEVELS),
                mistake_levels=", ".join(MISTAKE_LEVELS), scenarios=", ".join(SCENARIOS),
                specific=lines or "- (nothing here: leave \"specific\" out)"))
        if need_errors:
            texts.append(self.texts["errors"])
        return "\n\n".join(texts)

    def _cap(self, schema: PropertySchema) -> int:
        """Answer tokens: a little per rating, more for the lists and the error check."""
        questions, specific, need_query, need_errors = self._layout(schema)
        return self.cap or (40 + 12 * len(questions) + 350 * need_query
                            + 12 * len(specific) + 500 * need_errors)

    def _request(self, pair: Pair, schema: PropertySchema, sections: str,
                 answer: dict[str, Any]) -> Request:
        need_errors = self._layout(schema)[3]
        reference = prompts.render(self.texts["reference"], reference=pair.reference) \
            if need_errors and pair.reference else ""
        user = prompts.render(self.texts[STEP], query=pair.prompt_text(), reference=reference,
                              response_a=pair.response_a, response_b=pair.response_b,
                              sections=sections)
        self.max_tokens[STEP] = self._cap(schema)
        return self._chat(STEP, user, answer)

    # -- running ------------------------------------------------------------------------
    def _execute(self, pairs: list[Pair], schema: PropertySchema, fetch) -> dict[str, list[_Job]]:
        answer, sections = self.answer_schema(schema), self._sections(schema)
        jobs = [_Job(STEP, p, self._request(p, schema, sections, answer), answer)
                for p in pairs]
        self._settle(jobs, fetch)
        return {STEP: jobs, "query": [], "reference": []}

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None) -> pd.DataFrame:
        """Ask once per pair; return the annotation table (failures kept with reasons)."""
        records = frame_to_pairs(pairs)
        jobs = self._execute(records, schema, lambda requests: self.client.run(requests,
                                                                               progress))
        self._reject_unusable(jobs)  # asked again by the next run, not stored as answers
        self.query_info_ = self._traits(jobs[STEP]) if self._layout(schema)[2] else None
        self.consistency_ = None
        frame = pd.DataFrame(self._rows(schema, jobs[STEP]), columns=list(ANNOTATION_COLUMNS))
        frame["value_a"] = frame["value_a"].astype(float)
        frame["value_b"] = frame["value_b"].astype(float)
        return frame

    # -- answers into tables --------------------------------------------------------------
    def _rows(self, schema: PropertySchema, jobs: list[_Job]) -> list[dict[str, Any]]:
        wanted = self.measures(schema)
        rows = []
        for job in jobs:
            result, pid = job.result, job.pair.id
            for prop in wanted:
                if prop == LENGTH and prop not in result_ratings(result):
                    rows.append(self._row(pid, prop, *pair_word_counts(
                        job.pair.response_a, job.pair.response_b, job.pair.metadata), OK))
                elif result is None:
                    rows.append(self._row(pid, prop, None, None, FAILED, job.error))
                elif prop in result.get("ratings", {}):
                    a, b = result["ratings"][prop]
                    rows.append(self._row(pid, prop, a, b, OK))
                elif prop in TRAIT_OF:
                    rows.append(self._specific(pid, prop, result))
                else:
                    rows.append(self._error(pid, prop, result["errors"]))
        return rows

    def _specific(self, pid: str, prop: str, result: dict[str, Any]) -> dict[str, Any]:
        query = result["query"]
        if prop in _DIRECT:
            trait = query[_DIRECT[prop]]
            applies = not trait if prop == "clarifies_intent" else trait
            if not applies:
                return self._row(pid, prop, None, None, NOT_APPLICABLE)
            a, b = result["specific"][prop]
            return self._row(pid, prop, a, b, OK)
        key, convert = _LISTS[prop]
        items = query[key]
        if not items:
            return self._row(pid, prop, None, None, NOT_APPLICABLE)
        return self._row(pid, prop, float(np.mean([convert(i["a"]) for i in items])),
                         float(np.mean([convert(i["b"]) for i in items])), OK)

    def _error(self, pid: str, prop: str, errors: dict[str, Any]) -> dict[str, Any]:
        if not (errors["checkable_a"] and errors["checkable_b"]):
            sides = [s for s in "ab" if not errors[f"checkable_{s}"]]
            which = "either response" if len(sides) == 2 else f"response {sides[0].upper()}"
            return self._row(pid, prop, None, None, NOT_APPLICABLE,
                             f"the annotator could not reliably check {which}")
        severity = next(s for s, p in ERROR_PROPS.items() if p == prop)
        return self._row(pid, prop, sum(e["severity"] == severity for e in errors["errors_a"]),
                         sum(e["severity"] == severity for e in errors["errors_b"]), OK)

    def _traits(self, jobs: list[_Job]) -> pd.DataFrame:
        """Return the query-information table, laid out as the five-step plan gives it."""
        asked = []
        for job in jobs:
            q = None if job.result is None else job.result["query"]
            result = None if q is None else {
                **q, "explicit_constraints": [i["item"] for i in q["constraints"]],
                "explicit_stances": [i["item"] for i in q["stances"]],
                "mistakes_or_biases": [i["item"] for i in q["mistakes"]]}
            asked.append(_Job("query", job.pair, job.request, job.schema, result=result,
                              error=job.error))
        return self._query_info([j.pair for j in jobs], {"query": asked, "reference": []})
