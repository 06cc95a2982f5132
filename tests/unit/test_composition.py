"""One way in for every dependency (issue 17, item 1): bootstrap.compose() makes them, and the code below
the entry points takes them from its context.

The check reads the source (AST): no module of the use cases, the jobs, the read models or the domain
reads the environment, asks a process-wide composition or cache (`settings()`, a catalog loader,
`bootstrap.current()`), rebinds a module global (`global`), memoises at module level (`lru_cache`,
`functools.cache`) or keeps a module-level container that its functions fill. Only chalicelib/bootstrap.py
and chalicelib/config.py (and the entry points above them) may."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import chalicelib

ROOT = Path(chalicelib.__file__).resolve().parent
CHECKED = ("services", "jobs", "readmodels", "domain")
LOADERS = {"settings", "catalog", "default_catalog", "catalog_at"}  # process-wide reads of config.py's caches
MEMO = {"lru_cache", "cache"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "clear", "remove",
            "discard"}
# module-level containers that are not state read by the code: a seam the tests fill (fault injection)
SEAMS = {("services/renewals.py", "_before_item")}


def _module_containers(tree: ast.Module) -> dict[str, int]:
    """Names bound at module level to an empty dict, list or set (literal or call)."""
    out = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if not isinstance(target, ast.Name) or value is None:
            continue
        empty = isinstance(value, ast.Dict | ast.List | ast.Set) and not (
            getattr(value, "keys", None) or getattr(value, "elts", None))
        called = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and not value.args \
            and value.func.id in ("dict", "list", "set", "defaultdict", "OrderedDict")
        if empty or called:
            out[target.id] = node.lineno
    return out


def _mutated_in_functions(tree: ast.Module, names: set[str]) -> set[str]:
    found = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in names \
                    and node.func.attr in MUTATORS:
                found.add(node.func.value.id)
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in names:
                        found.add(t.value.id)
    return found


def global_reads(path: Path, rel: str) -> list[str]:
    """Where a module reads process-wide state: `rel:line: what`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sites = set()
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            what = f"os.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and {a.name for a in node.names} & {"environ", "getenv"}:
            what = "from os import environ/getenv"
        elif isinstance(node, ast.Global):
            what = "global " + ", ".join(node.names)
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            base = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
            if name in LOADERS and not node.args and not node.keywords:
                what = f"{name}()"
            elif name == "current" and base == "bootstrap":
                what = "bootstrap.current()"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                d = deco.func if isinstance(deco, ast.Call) else deco
                if (isinstance(d, ast.Name) and d.id in MEMO) or (
                        isinstance(d, ast.Attribute) and d.attr in MEMO and ast.unparse(d.value) == "functools"):
                    what = f"memoised ({ast.unparse(d)})"
        if what:
            sites.add(f"{rel}:{node.lineno}: {what}")
    containers = _module_containers(tree)
    for name in sorted(_mutated_in_functions(tree, set(containers))):
        if (rel, name) not in SEAMS:
            sites.add(f"{rel}:{containers[name]}: module-level state {name}")
    return sorted(sites)


def global_reads_under(root: Path) -> list[str]:
    out = []
    for unit in CHECKED:
        for path in sorted((root / unit).rglob("*.py")) if (root / unit).is_dir() else []:
            out += global_reads(path, str(path.relative_to(root)))
    return out


def test_every_module_imports() -> None:
    """Every module of chalicelib imports (the check below reads them all; none is dead weight)."""
    for info in pkgutil.walk_packages([str(ROOT)], prefix="chalicelib."):
        importlib.import_module(info.name)


def test_no_global_is_read_below_the_composition() -> None:
    assert global_reads_under(ROOT) == []


def test_the_check_sees_each_kind_of_global(tmp_path: Path) -> None:
    """The check fails on each thing it forbids (a check that cannot fail proves nothing)."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "bad.py").write_text(
        "import os, functools\nfrom functools import lru_cache\nfrom chalicelib import bootstrap\n"
        "from chalicelib.config import settings\n_SEEN = {}\n_N = 0\n\n"
        "@lru_cache(maxsize=1)\ndef a():\n    return os.environ.get('X')\n\n"
        "@functools.cache\ndef b():\n    return settings().stage, bootstrap.current()\n\n"
        "def c(k):\n    global _N\n    _N += 1\n    _SEEN[k] = os.getenv('Y')\n")
    found = [line.split(": ", 1)[1] for line in global_reads_under(tmp_path)]
    assert sorted(found) == sorted(["memoised (lru_cache)", "os.environ", "memoised (functools.cache)", "settings()",
                                    "bootstrap.current()", "global _N", "os.getenv", "module-level state _SEEN"])
