"""The metrics reference, read from ``digest.metrics.ALL``: the specs that define the metrics
are the ones that document them, so a metric cannot be served and not listed, or the reverse."""

from __future__ import annotations

from digest.metrics import ALL, MetricSpec

_SUFFIX = {"counter": "_total", "histogram": "_bucket, _sum, _count", "gauge": ""}


def exposed_names(spec: MetricSpec) -> list[str]:
    """The sample names a scrape shows for ``spec``."""
    if spec.kind == "histogram":
        return [f"{spec.name}_{part}" for part in ("bucket", "sum", "count")]
    return [spec.name + _SUFFIX[spec.kind]]


def markdown() -> str:
    """The metrics reference page."""
    lines = [
        "# Metrics reference",
        "",
        "Generated from `digest/metrics.py` each time the documentation is built. `digest worker`",
        "serves the task outcomes on `--metrics-port` (or `metrics.worker_port`), summed over its",
        "pool processes; `digest beat` serves the queue on `metrics.beat_port`. See",
        "[Monitoring](../monitoring.md) for what to watch.",
        "",
        "| metric | type | labels | served by | what |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in ALL:
        names = "<br>".join(f"`{name}`" for name in exposed_names(spec))
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "—"
        what = spec.help.replace("|", "\\|")
        lines.append(f"| {names} | {spec.kind} | {labels} | `digest {spec.exposed_by}` | {what} |")
    return "\n".join(lines) + "\n"
