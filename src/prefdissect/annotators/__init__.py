"""Annotators: the registered producers of annotations (heuristic, LLM, ...)."""
