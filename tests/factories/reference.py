"""Reference implementations the tests hold the app's statistics against (never used by the app)."""

from collections.abc import Hashable, Sequence

import numpy as np

from annotations.results import stats


def crowdmos_ci_long(raters: Sequence[Hashable], items: Sequence[Hashable], scores: Sequence[float]) -> dict:
    """stats.crowdmos_ci on long-format rows (one per rating); the matrix holds only raters/items seen."""
    if not len(raters) == len(items) == len(scores):
        raise ValueError("raters, items and scores must have the same length")
    rater_labels, r = np.unique(np.asarray(raters, dtype=object).astype(str), return_inverse=True)
    item_labels, i = np.unique(np.asarray(items, dtype=object).astype(str), return_inverse=True)
    if len(np.unique(r * len(item_labels) + i)) < len(r):
        raise ValueError("a rater rated the same item more than once; the CrowdMOS matrix holds one each")
    matrix = np.full((len(rater_labels), len(item_labels)), np.nan)
    matrix[r, i] = np.asarray(scores, dtype=float)
    return stats.crowdmos_ci(matrix)
