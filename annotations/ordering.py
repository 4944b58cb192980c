"""Session order: shuffle clips so that no two neighbours say the same sentence. Pure functions."""

import random
from collections import Counter
from collections.abc import Callable, Hashable


def order_without_neighbours(items: list, *, key: Callable, rng: random.Random) -> list:
    """A random order in which no two neighbours share a key, whenever such an order exists."""
    remaining = [(key(item), item) for item in items]  # each key computed once
    rng.shuffle(remaining)
    counts = Counter(item_key for item_key, _ in remaining)
    order, previous = [], None
    while remaining:
        candidates = [i for i, (item_key, _) in enumerate(remaining) if item_key != previous] or [0]
        # No candidate leaves a perfect order possible: take the most frequent key, which keeps
        # the number of equal neighbours at its minimum.
        fallback = max(candidates, key=lambda i: counts[remaining[i][0]])
        index = next((i for i in candidates if _can_finish(counts, remaining[i][0])), fallback)
        previous, item = remaining.pop(index)
        counts[previous] -= 1
        order.append(item)
    return order


def _can_finish(counts: Counter, picked: Hashable) -> bool:
    """After taking one item of key picked, can the rest be ordered with no equal neighbours?"""
    rest = sum(counts.values()) - 1
    for key, count in counts.items():
        left = count - (key == picked)
        # The key just placed must be separated from its own next item; the others may start.
        if left > rest - left + (key != picked):
            return False
    return True
