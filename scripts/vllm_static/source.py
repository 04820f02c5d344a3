"""vLLM source modules, parsed with ast, and where a name is defined (imports followed)."""

from __future__ import annotations

import ast
from typing import Any
from pathlib import Path

BUILTIN_TYPES = {"bool", "int", "float", "str", "dict", "list", "tuple", "set", "bytes"}


class GenError(Exception):
    pass


class Unknown:
    """A value the static reading cannot know (a call into torch, a runtime registry...)."""

    def __init__(self, why: str = ""):
        self.why = why

    def __repr__(self) -> str:
        return f"Unknown({self.why})"


UNKNOWN = Unknown()


class Marker:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return f"Marker({self.text})"


# ---------------------------------------------------------------- source modules
class Source:
    def __init__(self, root: Path):
        self.root = root  # the directory that holds vllm/
        self._mods: dict[str, ast.Module | None] = {}
        self.files_read: set[str] = set()
        self.warnings: list[str] = []

    def path_of(self, mod: str) -> Path | None:
        base = self.root / Path(*mod.split("."))
        for cand in (base.with_suffix(".py"), base / "__init__.py"):
            if cand.exists():
                return cand
        return None

    def module(self, mod: str) -> ast.Module | None:
        if mod not in self._mods:
            path = self.path_of(mod)
            tree = None
            if path is not None:
                try:
                    tree = ast.parse(path.read_text(encoding="utf-8"))
                    self.files_read.add(str(path.relative_to(self.root)))
                except SyntaxError as exc:
                    self.warnings.append(f"cannot parse {path}: {exc}")
            self._mods[mod] = tree
        return self._mods[mod]

    @staticmethod
    def _top_statements(body, typing_only=False):
        """Top-level statements with a flag: True inside `if TYPE_CHECKING:`."""
        for node in body:
            if isinstance(node, ast.If):
                is_tc = "TYPE_CHECKING" in ast.unparse(node.test)
                yield from Source._top_statements(node.body, typing_only or is_tc)
                yield from Source._top_statements(node.orelse, typing_only)
            elif isinstance(node, ast.Try):
                yield from Source._top_statements(node.body, typing_only)
                for h in node.handlers:
                    yield from Source._top_statements(h.body, typing_only)
            else:
                yield node, typing_only

    def resolve(self, mod: str, name: str, depth: int = 0, typing: bool = False):
        """Where `name` is defined as seen from module `mod`: ('class'|'func'|'alias'|'module', node, mod).

        At run time (what argparse sees) unless `typing`: then the `if TYPE_CHECKING:` definition wins.
        """
        if depth > 20:
            return None
        tree = self.module(mod)
        if tree is None:
            return None
        found: tuple[str, Any, str] | None = None
        typing_found: tuple[str, Any, str] | None = None
        for node, in_tc in self._top_statements(tree.body):
            if in_tc and not typing:
                continue
            before = found
            if isinstance(node, ast.ClassDef) and node.name == name:
                found = ("class", node, mod)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                found = ("func", node, mod)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = ("alias", node.value, mod)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name \
                    and node.value is not None:
                found = ("alias", node.value, mod)
            elif type(node).__name__ == "TypeAlias" and getattr(node.name, "id", None) == name:
                found = ("alias", node.value, mod)
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if (a.asname or a.name) == name:
                        src = self._abs_module(mod, node)
                        sub = f"{src}.{a.name}"
                        if self.path_of(sub) is not None:
                            found = ("module", None, sub)
                        else:
                            r = self.resolve(src, a.name, depth + 1, typing)
                            if r is not None:
                                found = r
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname == name:
                        found = ("module", None, a.name)
                    elif a.asname is None and a.name.split(".")[0] == name:
                        found = ("module", None, name)
            if in_tc and found is not before:
                typing_found = found
        return typing_found or found if typing else found

    def _abs_module(self, mod: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        path = self.path_of(mod)
        is_pkg = path is not None and path.name == "__init__.py"
        parts = mod.split(".")
        if not is_pkg:
            parts = parts[:-1]
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def resolve_expr(self, mod: str, node: ast.AST, typing: bool = False):
        """Resolve a Name or dotted Attribute to a definition."""
        if isinstance(node, ast.Name):
            return self.resolve(mod, node.id, typing=typing)
        if isinstance(node, ast.Attribute):
            base = self.resolve_expr(mod, node.value, typing)
            if base and base[0] == "module":
                return self.resolve(base[2], node.attr, typing=typing)
        return None


