"""A Python function as judge: rule-based rewards, verifiers, judges with known tastes.

The function is called as ``function(query, response_a, response_b)`` and returns
P(the first response is better) as a number in [0, 1], or a verdict ``"A"``,
``"B"`` or ``"tie"`` (read as 1, 0 and 0.5). Like the LLM judges it is asked
about every pair in both orders and the two answers are combined by
:func:`~prefdissect.judges.combine`, so a function that prefers whatever it is
shown first shows a position bias here as an LLM would. A call that raises, or
returns anything else (None, a number outside [0, 1], NaN, a boolean, another
word), makes that order unusable, with the reason; a pair with no usable order
becomes a judge failure (an exclusion), never a crash.

The function comes from ``FILE.py:FUNCTION`` (loaded by path, like a script) or,
in a notebook, is passed directly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UsageError
from ..pairs import frame_to_pairs
from ..registry import register
from . import JudgeRun, OrderResult, combine

_VERDICTS = {"a": 1.0, "b": 0.0, "tie": 0.5}


def load_function(spec: str) -> Callable[..., Any]:
    """Return the function named by ``FILE.py:FUNCTION``, or raise a :class:`UsageError`.

    The file is executed as a module of its own (not imported from ``sys.path``),
    so a judge file needs no package around it.
    """
    path_text, colon, function = spec.rpartition(":")
    if not colon or not path_text or not function:
        raise UsageError(f"--python {spec}: give the file and the function, FILE.py:FUNCTION "
                         "(e.g. --python judges.py:prefer_lists)")
    path = Path(path_text)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"--python {spec}: {path} {what}; give the path of a Python file")
    name = "prefdissect_judge_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    loader = importlib.util.spec_from_file_location(name, path)
    if loader is None or loader.loader is None:
        raise UsageError(f"--python {spec}: {path} cannot be loaded as Python; give a .py file")
    module = importlib.util.module_from_spec(loader)
    try:
        loader.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error it raises is theirs to fix
        raise UsageError(f"--python {spec}: running {path} failed ({type(exc).__name__}: "
                         f"{exc}); fix the file so that it loads on its own") from None
    if not hasattr(module, function):
        defined = sorted(k for k, v in vars(module).items()
                         if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == name)
        known = f"; it defines {', '.join(defined)}" if defined else ""
        raise UsageError(f"--python {spec}: {path} has no '{function}'{known}")
    found = getattr(module, function)
    if not callable(found):
        raise UsageError(f"--python {spec}: '{function}' in {path} is a "
                         f"{type(found).__name__}, not a function")
    return found


def read_answer(value: Any) -> OrderResult:
    """P(first is better) from what the function returned, or why it is unusable."""
    if isinstance(value, str):
        p = _VERDICTS.get(value.strip().lower())
        if p is None:
            return OrderResult(None, f"returned {value[:40]!r}; return 'A', 'B', 'tie' or "
                               "P(A) in [0, 1]")
        return OrderResult(p, "verdict")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return OrderResult(None, f"returned a {type(value).__name__} ({str(value)[:40]}); "
                           "return 'A', 'B', 'tie' or P(A) in [0, 1]")
    p = float(value)
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        return OrderResult(None, f"returned {p!r}, not a probability in [0, 1]")
    return OrderResult(p, "probability")


@register("judge", "python", "a Python function (query, response_a, response_b) -> P(A) "
          "or 'A'/'B'/'tie', asked in both orders")
class PythonJudge:
    """Judge pairs with a Python function; see the module docstring.

    Parameters
    ----------
    function
        The function, or ``FILE.py:FUNCTION`` naming it.
    name
        The judge's name in the study (default: the function's name).
    """

    def __init__(self, function: str | Callable[..., Any], *, name: str | None = None):
        self.source = function if isinstance(function, str) else getattr(
            function, "__qualname__", repr(function))
        self.function = load_function(function) if isinstance(function, str) else function
        if not callable(self.function):
            raise UsageError(f"the Python judge needs a function, not a "
                             f"{type(self.function).__name__}")
        self.name = name or getattr(self.function, "__name__", "python")
        self.model = self.source

    def ask(self, query: str, first: str, second: str) -> OrderResult:
        """Call the function once: P(``first`` is better), or why the answer is unusable."""
        try:
            value = self.function(query, first, second)
        except Exception as exc:  # the user's code: its failure is this order's result
            return OrderResult(None, f"raised {type(exc).__name__}: {str(exc)[:200]}")
        return read_answer(value)

    def judge(self, pairs: pd.DataFrame, progress=None) -> JudgeRun:
        """Ask about every pair in both orders; progress counts pairs."""
        run = JudgeRun()
        extra = {"model": self.source, "mode": "python"}
        for pair in frame_to_pairs(pairs):
            query = pair.prompt_text()
            first = self.ask(query, pair.response_a, pair.response_b)
            swapped = self.ask(query, pair.response_b, pair.response_a)
            run.add(combine(pair.id, self.name, first, swapped, extra))
            if progress:
                progress(1)
        return run
