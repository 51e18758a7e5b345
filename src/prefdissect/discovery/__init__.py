"""Discovery: what a judge rewards that the property schema does not name.

Pairs are split by query into a proposal half and a test half. Proposers see only
the proposal half: a library of text features defined as data
(:mod:`~prefdissect.discovery.features`), phrases distinctive of the preferred side
where the current model predicts worst (:mod:`~prefdissect.discovery.phrases`),
and an LLM that reads such pairs and proposes comparisons
(:mod:`~prefdissect.discovery.proposals`). Every candidate is then tested on the
test half beside the schema's properties and the model terms, and kept for its
held-out gain above a threshold calibrated by shuffling labels
(:mod:`~prefdissect.discovery.discoveries`, whose statistics on arrays are in
:mod:`~prefdissect.discovery.gains`); :mod:`~prefdissect.discovery.run` ties the
steps to a study folder and writes the outputs.
"""
