"""The layer rule of search/__init__.py, checked on every module's imports (top-level and lazy)."""

from __future__ import annotations

import ast
from pathlib import Path

import search

ROOT = Path(search.__file__).parent


def _rank() -> dict[str, int]:
    out = {}
    for i, layer in enumerate(reversed(search.LAYERS)):  # bottom layer gets rank 0
        for name in layer if isinstance(layer, tuple) else (layer,):
            out[name] = i
    return out


def _imports(path: Path) -> list[str]:
    mods = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return [m for m in mods if m.startswith("search.")]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in _rank() else None


def test_every_module_belongs_to_a_layer() -> None:
    loose = [p.name for p in ROOT.glob("*.py") if p.stem not in ("__init__", *search.SHARED)]
    assert not loose, f"modules outside the layer packages: {loose}"
    assert {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} == set(_rank())


def test_shared_modules_import_no_layer_and_neither_torch_nor_optuna() -> None:
    shared = {f"search.{m}" for m in search.SHARED}
    for name in search.SHARED:
        path = ROOT / f"{name}.py"
        assert path.is_file(), name
        bad = [m for m in _imports(path) if not any(m.startswith(s) for s in shared)]
        assert not bad, f"{name}.py imports {bad}"
        tree = ast.parse(path.read_text())
        mods = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        mods += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in mods if m.split(".")[0] in ("torch", "optuna", "space")], name


def test_imports_go_down_only() -> None:
    rank, bad = _rank(), []
    for path in ROOT.rglob("*.py"):
        own = path.relative_to(ROOT).parts[0]
        if own not in rank:
            continue
        for m in _imports(path):
            other = _layer(m)
            if other is not None and other != own and rank[other] >= rank[own]:
                bad.append(f"{path.relative_to(ROOT)} imports {m}")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_command_imports_another_command() -> None:
    bad = []
    for path in (ROOT / "cli").glob("*.py"):
        for m in _imports(path):
            entry = path.stem in ("__init__", "__main__")  # the dispatcher may name commands
            if m.startswith("search.cli.") and not m.startswith("search.cli.common") and not entry:
                bad.append(f"cli/{path.name} imports {m}")
    assert not bad, "\n".join(bad)


def _module(path: Path) -> str:
    parts = ("search", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_circles() -> None:
    # within a layer imports may go either way; a circle (even through TYPE_CHECKING or a lazy
    # import) means two modules that are one, or a piece in the wrong one
    graph = {_module(p): set(_imports(p)) for p in ROOT.rglob("*.py")}
    graph = {m: {d for d in deps if d in graph and d != m and not m.startswith(d + ".")}
             for m, deps in graph.items()}
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m):] + [m]))
        if m not in done:
            for d in sorted(graph[m]):
                visit(d, [*path, m])
            done.add(m)

    for m in sorted(graph):
        visit(m, [])


def test_space_never_imports_search_or_optuna() -> None:
    space = ROOT.parent / "space"
    for path in space.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in names if m.split(".")[0] in ("search", "optuna")], path.name
