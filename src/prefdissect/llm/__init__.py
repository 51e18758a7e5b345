"""LLM plumbing shared by the LLM annotator and the LLM judges.

:mod:`.client` sends requests to any OpenAI-compatible server, :mod:`.cache` logs
every exchange in SQLite (the cache), :mod:`.batch` writes and reads provider
batch files, :mod:`.parsing` turns model output into validated JSON.
"""
