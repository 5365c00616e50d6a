"""Fuzz targets, each an atheris runner ``fuzz/TARGET.py`` (``scripts/fuzz SECONDS TARGET``)
over a check of its own: the feed path (``fuzz.target``, seeds in fuzz/corpus/), inbound mail
(``fuzz.inbound_target``), fetched pictures (``fuzz.picture_target``) and the operator's files
(``fuzz.operator_target``), seeds in fuzz/corpus-TARGET/; ``fuzz/make_corpus.py`` writes every
corpus. docs/development.md, "Fuzzing", says how to run each, for a while or for hours."""
