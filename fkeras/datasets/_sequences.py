"""Keras's word-index sequence options, shared by IMDB and Reuters."""

from __future__ import annotations

from fkeras.datasets._npz import remove_long_seq


def encode(seqs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in seqs]
    if index_from:
        return [[w + index_from for w in x] for x in seqs]
    return [list(x) for x in seqs]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside `[skip_top, num_words)` become `oov_char` (or are dropped when it is None)."""
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


__all__ = ["encode", "limit_vocabulary", "remove_long_seq"]
