"""What a screen reader is given: Chromium's accessibility tree of a page, read over the DevTools
protocol (``Accessibility.getFullAXTree``) through the CDP session playwright already holds.

Each node keeps what the tests ask of it: its role, its accessible name, its description (what
``aria-describedby`` adds), its heading level, its language and the URL of a link. Nodes the
browser leaves out of the tree (hidden, presentational) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page


@dataclass(frozen=True, slots=True)
class Node:
    role: str
    name: str
    description: str = ""
    level: int | None = None
    url: str = ""
    backend_id: int | None = None  # the DOM node's id, to read its attributes


def _value(node: dict[str, Any], key: str) -> str:
    return str(node.get(key, {}).get("value", ""))


def accessibility_tree(page: Page) -> list[Node]:
    """The page's accessibility tree in document order, without the nodes it ignores."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    by_id = {node["nodeId"]: node for node in nodes}
    found: list[Node] = []

    def walk(node: dict[str, Any]) -> None:
        if not node.get("ignored"):
            properties = {
                item["name"]: item["value"].get("value") for item in node.get("properties", [])
            }
            level = properties.get("level")
            found.append(
                Node(
                    role=_value(node, "role"),
                    name=_value(node, "name"),
                    description=_value(node, "description"),
                    level=int(level) if level is not None else None,
                    url=str(properties.get("url") or ""),
                    backend_id=node.get("backendDOMNodeId"),
                )
            )
        for child in node.get("childIds", []):
            if child in by_id:
                walk(by_id[child])

    walk(nodes[0])
    return found


def of_role(tree: list[Node], role: str) -> list[Node]:
    return [node for node in tree if node.role == role]
