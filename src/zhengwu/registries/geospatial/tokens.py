"""Search tokens of Chinese addresses: character bigrams of the normalised text.

An address is a run of Chinese characters and digits without spaces (浙江省杭州市西湖区文三路88号).
Word segmenters split it unpredictably around road names they do not know, while bigrams need no
dictionary and match any part of two characters or more, on SQLite and PostgreSQL alike with a plain
indexed ``IN``. Full-width digits and letters are folded (NFKC), spaces and punctuation dropped.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_DROP: Final = re.compile(r"[\s\W_]+", re.UNICODE)
MAX_QUERY: Final = 100


def normalise(text: str) -> str:
    """Fold full-width forms, drop spaces and punctuation, lower-case Latin letters."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text)).lower()


def bigrams(text: str) -> list[str]:
    """Distinct character bigrams of the normalised text, in order of first appearance."""
    value = normalise(text)
    return list(dict.fromkeys(value[i : i + 2] for i in range(len(value) - 1)))
