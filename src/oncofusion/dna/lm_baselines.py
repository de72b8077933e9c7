"""What a masked LM must beat to have learnt anything: the most frequent token, and a Markov model of the
flanking bases, scored on the same masked positions with a paired interval over windows.

The Markov baseline predicts a masked base from the ``order`` true bases on each side (the transformer
sees ``<mask>`` where a neighbour is masked too, so the baseline is given the easier task). Its counts
come from the training windows; orders 1–3 are all scored and the best is the one reported, so the
comparison is against the strongest of them, chosen on the held-out data itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARKOV_ORDERS = (1, 2, 3)


@dataclass
class MaskedPredictions:
    """The held-out masked positions: which window each is in, the true id, the model's guess."""

    window: np.ndarray
    position: np.ndarray
    truth: np.ndarray
    predicted: np.ndarray


def base_codes(ids: np.ndarray, base_offset: int) -> np.ndarray:
    """Codes 0..3 (A T C G) of one-base-a-token ids; -1 for anything else (N, specials, padding)."""
    codes = ids - base_offset
    return np.where((codes >= 0) & (codes < 4), codes, -1)


def _contexts(codes: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every position with ``order`` real bases each side: its (row, column) and context index."""
    n, width = codes.shape
    cols = np.arange(order, width - order)
    index = np.zeros((n, len(cols)), dtype=np.int64)
    valid = np.ones((n, len(cols)), dtype=bool)
    for offset in [*range(-order, 0), *range(1, order + 1)]:
        neighbour = codes[:, cols + offset]
        valid &= neighbour >= 0
        index = index * 4 + np.clip(neighbour, 0, 3)
    rows = np.repeat(np.arange(n), len(cols)).reshape(n, len(cols))
    return rows, np.broadcast_to(cols, (n, len(cols))), np.where(valid, index, -1)


def fit_markov(train_codes: np.ndarray, order: int) -> np.ndarray:
    """The most frequent centre base for each context of ``order`` bases each side (-1: never seen)."""
    rows, cols, context = _contexts(train_codes, order)
    centre = train_codes[rows, cols]
    use = (context >= 0) & (centre >= 0)
    counts = np.zeros((4 ** (2 * order), 4), dtype=np.int64)
    np.add.at(counts, (context[use], centre[use]), 1)
    return np.where(counts.sum(1) > 0, counts.argmax(1), -1)


def markov_predict(table: np.ndarray, codes: np.ndarray, order: int, fallback: int) -> np.ndarray:
    """The table's guess for every position of ``codes`` (``fallback`` where the context is unseen or
    runs past the window)."""
    out = np.full(codes.shape, fallback, dtype=np.int64)
    rows, cols, context = _contexts(codes, order)
    known = context >= 0
    guess = np.where(known, table[np.where(known, context, 0)], -1)
    guess = np.where(guess >= 0, guess, fallback)
    out[rows, cols] = guess
    return out


def paired_difference(a: np.ndarray, b: np.ndarray, window: np.ndarray, n_boot: int, seed: int) -> dict:
    """Mean of a − b (per-position correctness) with a 95% bootstrap interval that resamples windows,
    since positions in one window are not independent."""
    windows, inverse = np.unique(window, return_inverse=True)
    diff_sum = np.bincount(inverse, weights=a.astype(float) - b.astype(float), minlength=len(windows))
    count = np.bincount(inverse, minlength=len(windows)).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(windows), size=(n_boot, len(windows)))
    means = diff_sum[draws].sum(1) / count[draws].sum(1)
    low, high = np.quantile(means, [0.025, 0.975])
    return {
        "mean": round(float(diff_sum.sum() / count.sum()), 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
        "verdict": "better" if low > 0 else ("worse" if high < 0 else "within noise"),
    }


def compare_to_baselines(
    masked: MaskedPredictions,
    train_ids: np.ndarray,
    held_out_ids: np.ndarray,
    base_offset: int | None,
    sequence_ids: np.ndarray,
    seed: int,
    n_boot: int = 1000,
    clusters: np.ndarray | None = None,
) -> dict:
    """Accuracy of the model and the baselines on the same masked positions, and model − best baseline.
    ``base_offset`` None (a k-mer vocabulary): the Markov baseline, which works on bases, is skipped.
    ``clusters``: what the interval resamples (default: the window of each masked position)."""
    groups = masked.window if clusters is None else clusters
    model_right = masked.predicted == masked.truth
    flat = train_ids[np.isin(train_ids, sequence_ids)]
    most_frequent = int(np.bincount(flat).argmax())
    frequent_right = masked.truth == most_frequent
    out = {
        "n_masked": len(masked.truth),
        "model_accuracy": round(float(model_right.mean()), 4),
        "most_frequent_token_accuracy": round(float(frequent_right.mean()), 4),
        "model_minus_most_frequent": paired_difference(model_right, frequent_right, groups, n_boot, seed),
    }
    if base_offset is None:
        return out
    train_codes, held_codes = base_codes(train_ids, base_offset), base_codes(held_out_ids, base_offset)
    fallback = int(np.bincount(train_codes[train_codes >= 0], minlength=4).argmax())
    by_order = {}
    for order in MARKOV_ORDERS:
        guess = markov_predict(fit_markov(train_codes, order), held_codes, order, fallback)
        right = (guess[masked.window, masked.position] + base_offset) == masked.truth
        by_order[order] = right
    best = max(by_order, key=lambda o: by_order[o].mean())
    out["markov_accuracy"] = {f"order {o} each side": round(float(r.mean()), 4) for o, r in by_order.items()}
    out["best_markov_order"] = best
    out["model_minus_best_markov"] = paired_difference(model_right, by_order[best], groups, n_boot, seed)
    return out
