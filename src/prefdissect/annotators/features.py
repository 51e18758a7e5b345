"""The features annotator: offline values of every schema property that carries a measure.

A property gets a ``measure`` in its schema entry (see
:mod:`prefdissect.discovery.features`): the built-in feature library has one for
each of its properties, and ``prefdissect discover`` writes one for every feature
or phrase it keeps (``discovered.yaml``). This annotator measures exactly those
properties, so a discovery becomes a property of every later study::

    prefdissect annotate STUDY --schema discovered.yaml --annotator features
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..annotations import Progress, values_to_frame
from ..properties import PropertySchema
from ..registry import register

VERSION = "features-1"


@register("annotator", "features", "offline measures of the schema properties that carry "
          "one (the feature library, properties kept by `discover`)")
class FeatureAnnotator:
    """Measure each schema property that has a ``measure`` (regex, phrases, statistic)."""

    name = "features"

    def measures(self, schema: PropertySchema) -> list[str]:
        """Return the schema properties that carry a measure."""
        return [p.name for p in schema.properties if p.measure is not None]

    def annotate(self, pairs: pd.DataFrame, schema: PropertySchema,
                 progress: Progress | None = None, chunk: int = 20000) -> pd.DataFrame:
        """Return an annotation table (status ``ok`` for every measured value)."""
        from ..discovery.features import measure_properties

        wanted = [schema.get(name) for name in self.measures(schema)]
        values_a = np.empty((len(pairs), len(wanted)))
        values_b = np.empty((len(pairs), len(wanted)))
        for start in range(0, len(pairs), chunk):
            stop = min(start + chunk, len(pairs))
            if wanted:
                values_a[start:stop], values_b[start:stop] = measure_properties(
                    wanted, pairs.iloc[start:stop])
            if progress is not None:
                progress(stop - start)
        return values_to_frame(pairs["id"].to_numpy(), [p.name for p in wanted], values_a,
                               values_b, annotator=self.name, prompt_version=VERSION)
