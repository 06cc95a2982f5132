"""The import-order check (`python -m scripts.layers`, run by `make lint`).

Prints the import graph between the top-level units of the code (`app`, and each package or module
directly under `chalicelib/`), then fails on

- an arrow against the declared order below (a unit importing a unit of a *higher* layer), and
- any cycle between units,

unless that arrow is listed in `KNOWN`: debts recorded when the check was written (issue 17 pays
them off), each one printed on every run so it stays visible. An arrow in `KNOWN` that the code no
longer has fails too, so the list only shrinks.

Imports inside `if TYPE_CHECKING:` blocks count: a type-only arrow is still an arrow a reader follows.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"

# Top (entry points) to bottom. A unit may import units of its own layer (without a cycle) and any
# layer below it, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    # entry points: Lambda, the CLI, the local server
    ("app", "cli", "cli_client", "cli_renewals", "cli_events", "local"),
    ("bootstrap",),  # composes the dependencies once
    ("api", "console", "jobs"),  # handlers: HTTP routes, the web console, scheduled jobs
    ("services",),  # use cases
    # adapters, read models and the contract's JSON shapes of stored items
    ("store", "readmodels", "shapes", "notify", "clock", "periodic", "gate", "integrations"),
    ("logs", "aws", "config"),  # plumbing every adapter may use
    ("domain",),  # pure rules
)

# Arrows against the order (or closing a cycle) that the code had when this check was written.
KNOWN: frozenset[tuple[str, str]] = frozenset()  # all paid (issue 17)


def layer_of(unit: str) -> int:
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise SystemExit(f"layers: {unit!r} is in no layer: add it to LAYERS in scripts/layers.py")


def _unit_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] != PACKAGE:
        return rel.stem
    top = rel.parts[1]
    return top[:-3] if top.endswith(".py") else top


def _module_of_file(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: Path) -> Iterable[str]:
    """The dotted names a file imports (for `from chalicelib import x`, `chalicelib.x`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_of_file(path)
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == PACKAGE:
                yield from (f"{PACKAGE}.{alias.name}" for alias in node.names)
            else:
                yield module


def _is_module(name: str) -> bool:
    """A module or package under chalicelib/ (not a name defined in chalicelib/__init__.py)."""
    return (ROOT / PACKAGE / f"{name}.py").exists() or (ROOT / PACKAGE / name).is_dir()


def graph() -> dict[str, set[str]]:
    files = [ROOT / "app.py", *sorted((ROOT / PACKAGE).rglob("*.py"))]
    edges: dict[str, set[str]] = {}
    for path in files:
        source = _unit_of_file(path)
        if source == "__init__":
            continue
        targets = edges.setdefault(source, set())
        for name in _imported(path):
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1 and parts[1] != source and _is_module(parts[1]):
                targets.add(parts[1])
    return edges


def cycles(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The arrows that lie on a cycle (both ends in one strongly connected component)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    component: dict[str, int] = {}
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component[member] = index[node]
                if member == node:
                    break

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return {(a, b) for a, targets in edges.items() for b in targets if component.get(a) == component.get(b)}


def check(edges: dict[str, set[str]], known: frozenset[tuple[str, str]] = KNOWN) -> list[str]:
    on_cycle = cycles(edges)
    problems = []
    seen = set()
    for source in sorted(edges):
        for target in sorted(edges[source]):
            upward = layer_of(target) < layer_of(source)
            if not (upward or (source, target) in on_cycle):
                continue
            seen.add((source, target))
            why = "imports a higher layer" if upward else "closes a cycle"
            if (source, target) in known:
                print(f"  known debt: {source} -> {target} ({why})")
            else:
                problems.append(f"{source} -> {target}: {why}")
    problems += [f"{a} -> {b}: listed in KNOWN but gone: remove it" for a, b in sorted(known - seen)]
    return problems


def main() -> int:
    edges = graph()
    for source in sorted(edges, key=lambda u: (layer_of(u), u)):
        print(f"{source} (layer {layer_of(source)}) -> {', '.join(sorted(edges[source])) or '-'}")
    problems = check(edges)
    for problem in problems:
        print(f"layers: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
