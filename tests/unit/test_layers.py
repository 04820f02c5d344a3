"""DESIGN.md's layer rules, as tests: the import graph of sparkpilot (imports inside functions
included) has no cycle; the core never imports cli/ or ui/; no module imports another's private
name; `sparkpilot --help` loads neither rich nor ui/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PKG = SRC / "sparkpilot"
TOP = ("cli", "ui", "__main__")   # the layers on top (and `python -m sparkpilot`): nothing below imports them


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The sparkpilot module an import names (a name inside a module counts as the module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (imports for annotations only never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def imports(mod: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in `mod` that runs, at any
    depth (inside functions too)."""
    path = MODULES[mod]
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: list[tuple[str, list[str], int]] = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                target = _resolve(a.name)
                if target:
                    out.append((target, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                full = ".".join(base + ([node.module] if node.module else []))
            else:
                full = node.module or ""
            if not full.startswith("sparkpilot"):
                continue
            for a in node.names:   # `from pkg import submodule` imports the submodule
                target = _resolve(f"{full}.{a.name}") if f"{full}.{a.name}" in MODULES else _resolve(full)
                if target:
                    names = [] if f"{full}.{a.name}" in MODULES else [a.name]
                    out.append((target, names, node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod in MODULES:
        for target, _names, _line in imports(mod):
            if target != mod:
                g[mod].add(target)
        # a package's submodule needs the package's __init__ to run first: that edge is real too,
        # but a package importing its own submodules is how packages are built, not a cycle
    return g


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _is_parent(a: str, b: str) -> bool:
    return b.startswith(a + ".")


def test_the_import_graph_has_no_cycle():
    g = graph()
    # a package's __init__ may gather its own submodules (the package is their parent, not a peer)
    for mod, targets in g.items():
        g[mod] = {t for t in targets if not _is_parent(mod, t)}
    assert cycles(g) == []


def test_the_core_never_imports_cli_or_ui():
    bad = [f"{mod} imports {target} (line {line})"
           for mod in MODULES if mod.split(".")[1:2] not in ([t] for t in TOP)
           for target, _names, line in imports(mod) if target.split(".")[1:2] in ([t] for t in TOP)]
    assert bad == []


def test_no_private_name_crosses_modules():
    bad = [f"{mod} takes {name} from {target} (line {line})"
           for mod in MODULES for target, names, line in imports(mod) if target != mod
           for name in names if name.startswith("_") and not name.startswith("__")]
    assert bad == []


def test_help_imports_neither_rich_nor_ui():
    """rich costs about 50 ms to import; typing a few (bench/cli_speed.py times --help)."""
    code = ("import sys\nfrom sparkpilot.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('rich', 'typing') or m.startswith(('rich.', 'sparkpilot.ui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
