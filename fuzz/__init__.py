"""Fuzzing the feed path: the target (``fuzz.target``), its atheris runner (``fuzz/feed_path.py``),
the seed corpus and its generator (``fuzz/make_corpus.py``); README.md, "Second command", says how
to run it."""
