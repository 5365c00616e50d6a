"""The ingest stage: fetch a feed over HTTP, parse its bytes, clean each entry.

    fetch_feed(client, url) ─► FetchResult ─► parse_feed(content) ─► ParsedFeed(entries: Entry…)
      over network (address      │  safety.guard_document first   └─ clean.clean_entry each
      checks, deadline),         │  (jsonfeed for JSON Feed)          (quirks, dates)
      content_coding (inflate),  │
      feed_body (the body within │
      its limits), fetch_errors  │
      (what went wrong, said)    │
    a large document, or one the poller did not read by its deadline: isolation.parse_apart runs
    parse_feed in a kept parser process, bounded in time and memory; nesting bounds how deeply
    the HTML html5ever reads nests, so every step of a parse is linear in what it reads

Each step raises its own error (FetchError, ParseError) that names the feed URL.
"""

from digest.ingest.fetch import build_client, fetch_feed
from digest.ingest.parse import parse_feed

__all__ = ["build_client", "fetch_feed", "parse_feed"]
