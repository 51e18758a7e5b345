"""prefdissect: find out what a preference judge actually rewards.

The pipeline, one module per stage: :mod:`pairs` are imported (:mod:`importers`),
annotated on named :mod:`properties` (:mod:`annotations`, :mod:`annotators`),
resolved into :mod:`comparisons`, joined with :mod:`judgments` and fitted into
:mod:`profiles` (Bayesian logistic regression, :mod:`engines`). A :mod:`study`
folder holds each stage's files.
"""

__version__ = "0.3.0"
