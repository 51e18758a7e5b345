"""LLM rewrites as edits: ``rewrite:PROPERTY:up`` asks a model to change one property.

The rewriter is one more edit, through the same cached :class:`LLMClient` as the
LLM judge: every request lands in the exchange log, so a re-run pays nothing
twice, a dry run counts the requests, and the requests can go out as a batch
file. Its answers are hostile input like any server's: a usable answer still has
to pass the same manipulation check as a built-in edit (target moved as asked,
nothing else the heuristic measures moved); an answer that is empty or cut off
at the token limit is left out with that reason (the same request would be cut
off again), and a request that failed, or whose answer was empty (handed back to
the client as unusable, :meth:`~prefdissect.llm.client.LLMClient.reject`), is
recorded as failed and sent again on the next run, within ``max_attempts``. Only
properties the heuristic annotator measures can be rewritten, since only those can
be checked.
"""

from __future__ import annotations

from .. import prompts
from ..errors import UsageError
from ..llm.answers import answer_text, finish_reason
from ..llm.cache import Exchange
from ..llm.client import CHARS_PER_TOKEN, LLMClient, Request
from . import FAILED_CHECK, KEPT, Checker, Edit, EditOutcome, failed

PREFIX = "rewrite:"
REWRITE_FAILED = "rewrite failed"
"""Status of a rewrite whose request failed or whose answer was empty (sent again on the
next run)."""
WAITING = "waiting"
"""Status, in a dry run, of a rewrite not yet in the exchange log."""


def is_rewrite(name: str) -> bool:
    """Whether an edit name asks for an LLM rewrite."""
    return name.startswith(PREFIX)


def rewrite_edit(name: str, checker: Checker) -> Edit:
    """Return the edit ``rewrite:PROPERTY:up`` (or ``:down``) stands for."""
    _, _, rest = name.partition(PREFIX)
    prop, _, way = rest.partition(":")
    if way not in ("up", "down") or not prop:
        raise UsageError(f"--edit {name}: write rewrite:PROPERTY:up or rewrite:PROPERTY:down, "
                         "e.g. rewrite:polite:up")
    checker.check_target(prop)
    label = checker.schema.get(prop).label
    word = "more" if way == "up" else "less"
    return Edit(name, prop, 1 if way == "up" else -1,
                f"an LLM rewrite making the response {word} {label}", _no_variants)


def _no_variants(text: str):
    raise UsageError("a rewrite edit is applied by the Rewriter, not on its own")


class Rewriter:
    """Applies rewrite edits with an LLM and checks the answers.

    Parameters
    ----------
    client
        The :class:`LLMClient` (its exchange log is the cache).
    model
        Model name sent with every request.
    checker
        The manipulation check (its schema gives each property's label and meaning).
    prompt_file
        YAML with ``system`` and ``user`` texts replacing the built-in ones.
    cached_only
        Use only answers already in the log (a dry run); others are :data:`WAITING`.
    """

    def __init__(self, client: LLMClient, model: str, checker: Checker, *,
                 prompt_file: str | None = None, cached_only: bool = False):
        self.client = client
        self.model = model
        self.checker = checker
        self.cached_only = cached_only
        self.prompts, self.version = prompts.load("rewrite", prompt_file)
        prompts.check(self.prompts, ("system", "user"),
                      ("response", "change", "label", "description"),
                      prompt_file or "rewrite.yaml", "prompt_file")
        self._answers: dict[str, Exchange | None] = {}
        self._asked: list[Request] = []

    def request(self, spec: Edit, text: str) -> Request:
        """Return the request that rewrites ``text`` for ``spec``."""
        prop = self.checker.schema.get(spec.target)
        user = prompts.render(self.prompts["user"], response=text,
                              change="more" if spec.direction > 0 else "less",
                              label=prop.label, description=prop.description)
        budget = 2 * (len(text) // CHARS_PER_TOKEN) + 128
        return Request("chat", {"model": self.model, "temperature": 0, "max_tokens": budget,
                                "messages": [{"role": "system", "content": self.prompts["system"]},
                                             {"role": "user", "content": user}]})

    def fetch(self, work: list[tuple[Edit, str]], progress=None) -> None:
        """Get the answers for every (edit, text): from the log, or (unless cached only) sent."""
        requests = [self.request(spec, text) for spec, text in work]
        self._asked += requests
        if self.cached_only:
            for request in requests:
                self._answers[request.key] = self.client.log.get(request.key)
            return
        self._answers.update(self.client.run(requests, progress))

    def pending(self) -> list[Request]:
        """Return the requests asked for so far that have no successful answer."""
        return [r for r in self._asked
                if (self._answers.get(r.key) is None or self._answers[r.key].status != "ok")]

    def apply(self, spec: Edit, text: str) -> EditOutcome:
        """Return the checked outcome of one rewrite (after :meth:`fetch`)."""
        key = self.request(spec, text).key
        exchange = self._answers.get(key)
        if exchange is None:
            if self.cached_only:
                return EditOutcome(spec.name, WAITING, None, "not yet asked (dry run)")
            return EditOutcome(spec.name, REWRITE_FAILED, None, "no answer")
        if exchange.status != "ok":
            return EditOutcome(spec.name, REWRITE_FAILED, None,
                               f"request failed: {exchange.error}")
        answer = answer_text(exchange.response)
        if finish_reason(exchange.response) == "length":
            return EditOutcome(spec.name, FAILED_CHECK, None,
                               "the rewrite was cut off at the token limit", False)
        if not answer or not answer.strip():  # unusable: handed back, asked again next run
            if not self.cached_only:
                self.client.reject(key, "the rewrite is empty")
            return EditOutcome(spec.name, REWRITE_FAILED, None, "the rewrite is empty (the "
                               "next run asks it again, within --max-attempts)")
        edited = answer.strip()
        if edited == text.strip():
            return EditOutcome(spec.name, FAILED_CHECK, edited, "the rewrite changed nothing",
                               False)
        moved, others = self.checker.judge(spec, text, edited)
        if moved and not others:
            return EditOutcome(spec.name, KEPT, edited, target_moved=True)
        return failed(spec, edited, moved, others)
