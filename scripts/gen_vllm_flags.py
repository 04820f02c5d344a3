#!/usr/bin/env python3
"""Generate the table of real `vllm serve` flags from vLLM's own source, per vLLM version.

Nothing here is typed by hand: the script reads vLLM's source statically with `ast` (importing
vllm needs CUDA and torch), follows the calls that build the `vllm serve` parser
(serve.py -> make_arg_parser -> FrontendArgs.add_cli_args -> AsyncEngineArgs.add_cli_args ->
EngineArgs.add_cli_args), and re-derives what vLLM's `get_kwargs(ConfigClass)` makes of each
config dataclass field (BooleanOptionalAction for bools, `choices` from Literal types, nargs for
lists, enum members for enum-typed fields).

Sources:
  default      `pip download vllm==X --no-deps` from PyPI into --cache, then read the wheel.
  --src DIR    a vLLM source tree or site-packages dir that holds vllm/ (e.g. /opt/vllm in the
               NGC container: `docker run --rm -v $PWD:/out nvcr.io/nvidia/vllm:26.04-py3 ...`);
               give --label for the version and --source-note for where it came from.

Output: src/sparkpilot/knowledge/vllm_flags/<version>.json and index.json (versions, and the
NGC container tags that ship each version, with the release notes that say so).

  python scripts/gen_vllm_flags.py                     # the default versions below
  python scripts/gen_vllm_flags.py --versions 0.19.0   # just one
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime as _dt
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "sparkpilot" / "knowledge" / "vllm_flags"

# vLLM versions we generate, and why.
DEFAULT_VERSIONS = ["0.11.1", "0.17.1", "0.19.0", "0.20.1", "0.25.1", "0.33.0"]

# NGC vLLM container tag -> vLLM version it ships, with the public source that says so.
NGC = {
    "25.10": ("0.10.2", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-25-10.html"),
    "26.01": ("0.11.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-01.html"),
    "26.03": ("0.17.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-03.html"),
    "26.04": ("0.19.0", "public deployment notes: 'nvcr.io/nvidia/vllm:26.04-py3 (engine 0.19.0+...nv26.04)'"),
    "26.05": ("0.20.1", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-05.html"),
    "26.06": ("0.22.1", "public deployment notes: NGC tag table '26.06-py3 | 0.22.1'"),
    "26.10": ("0.31.0", "https://docs.nvidia.com/deeplearning/frameworks/vllm-release-notes/rel-26-10.html"),
}

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
        found = None
        typing_found = None
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
        is_pkg = self.path_of(mod) is not None and self.path_of(mod).name == "__init__.py"
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


# ---------------------------------------------------------------- types of config fields
class TypeInfo:
    """The set of type hints of a field, as vLLM's get_type_hints() would see them."""

    def __init__(self):
        self.hints: set[str] = set()        # 'bool', 'int', 'float', 'str', 'dict', 'list', 'tuple', 'set', 'None', 'other'
        self.literal: list = []             # values of a Literal[...]
        self.enum: tuple[str, list[str], ast.ClassDef, str] | None = None
        self.dataclass: str | None = None
        self.elem: TypeInfo | None = None   # element type of list/tuple/set
        self.tuple_len: int | None = None
        self.dict_subclass = False
        self.typing_literal: list = []      # Literal values only visible to type checkers

    def merge(self, other: "TypeInfo") -> None:
        self.hints |= other.hints
        self.literal += [v for v in other.literal if v not in self.literal]
        self.enum = self.enum or other.enum
        self.dataclass = self.dataclass or other.dataclass
        self.elem = self.elem or other.elem
        self.tuple_len = self.tuple_len if self.tuple_len is not None else other.tuple_len
        self.dict_subclass = self.dict_subclass or other.dict_subclass
        self.typing_literal += [v for v in other.typing_literal if v not in self.typing_literal]


def _class_bases(src: Source, cls: ast.ClassDef, mod: str) -> list[tuple[ast.ClassDef, str]]:
    out = []
    for b in cls.bases:
        if isinstance(b, ast.Subscript):
            b = b.value
        r = src.resolve_expr(mod, b)
        if r and r[0] == "class":
            out.append((r[1], r[2]))
    return out


def _base_names(cls: ast.ClassDef) -> set[str]:
    names = set()
    for b in cls.bases:
        if isinstance(b, ast.Subscript):
            b = b.value
        if isinstance(b, ast.Name):
            names.add(b.id)
        elif isinstance(b, ast.Attribute):
            names.add(b.attr)
    for kw in cls.keywords:
        if kw.arg == "metaclass" and isinstance(kw.value, ast.Name):
            names.add(kw.value.id)
    return names


def _is_enum(src: Source, cls: ast.ClassDef, mod: str, depth=0) -> bool:
    if _base_names(cls) & {"Enum", "IntEnum", "StrEnum", "EnumMeta"}:
        return True
    if depth < 5:
        return any(_is_enum(src, c, m, depth + 1) for c, m in _class_bases(src, cls, mod))
    return False


def _is_dataclass(cls: ast.ClassDef) -> bool:
    for d in cls.decorator_list:
        if isinstance(d, ast.Call):
            d = d.func
        name = d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ""
        if name in ("dataclass", "config"):
            return True
    return False


def _is_dict_subclass(src: Source, cls: ast.ClassDef, mod: str) -> bool:
    return bool(_base_names(cls) & {"dict", "TypedDict", "Dict"})


def _enum_members(cls: ast.ClassDef) -> list[str]:
    out = []
    for node in cls.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name) and not t.id.startswith("_"):
                    out.append(t.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            if not node.target.id.startswith("_"):
                out.append(node.target.id)
    return out


def _enum_values(cls: ast.ClassDef) -> list:
    out = []
    for node in cls.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and not any(isinstance(t, ast.Name) and t.id.startswith("_") for t in node.targets):
            out.append(node.value.value)
    return out


def type_of(src: Source, mod: str, node: ast.AST, depth: int = 0) -> TypeInfo:
    t = TypeInfo()
    if depth > 25:
        t.hints.add("other")
        return t
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        t.hints.add("None")
        return t
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # forward reference
        try:
            return type_of(src, mod, ast.parse(node.value, mode="eval").body, depth + 1)
        except SyntaxError:
            t.hints.add("other")
            return t
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        t.merge(type_of(src, mod, node.left, depth + 1))
        t.merge(type_of(src, mod, node.right, depth + 1))
        return t
    if isinstance(node, ast.Subscript):
        base = node.value
        bname = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if bname == "Literal":
            for a in args:
                if isinstance(a, ast.Constant):
                    t.literal.append(a.value)
                else:  # Literal[OtherLiteral, "x"]
                    t.literal += type_of(src, mod, a, depth + 1).literal
            t.hints.add("Literal")
            return t
        if bname in ("Optional",):
            t.merge(type_of(src, mod, args[0], depth + 1))
            t.hints.add("None")
            return t
        if bname in ("Union",):
            for a in args:
                t.merge(type_of(src, mod, a, depth + 1))
            return t
        if bname in ("Annotated",):
            return type_of(src, mod, args[0], depth + 1)
        if bname in ("list", "List", "Sequence", "set", "Set", "tuple", "Tuple"):
            kind = {"List": "list", "Sequence": "list", "Set": "set", "Tuple": "tuple"}.get(bname, bname)
            t.hints.add(kind)
            t.elem = type_of(src, mod, args[0], depth + 1)
            if kind == "tuple":
                if any(isinstance(a, ast.Constant) and a.value is Ellipsis for a in args):
                    t.tuple_len = None
                else:
                    t.tuple_len = len(args)
            return t
        if bname in ("dict", "Dict", "Mapping"):
            t.hints.add("dict")
            return t
        if bname in ("ClassVar", "InitVar"):
            t.hints.add("classvar")
            return t
        t.hints.add("other")
        return t
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        if isinstance(node, ast.Name) and name in BUILTIN_TYPES:
            t.hints.add(name)
            return t
        if name in ("Any",):
            t.hints.add("other")
            return t
        if name in ("ClassVar",):
            t.hints.add("classvar")
            return t
        r = src.resolve_expr(mod, node)
        rt = src.resolve_expr(mod, node, typing=True)
        if rt is not None and rt is not r and rt[0] == "alias":
            # what a type checker sees (e.g. QuantizationMethods); vLLM validates these later
            tt = type_of(src, rt[2], rt[1], depth + 1)
            t.typing_literal += tt.literal + tt.typing_literal
        if r is None:
            t.hints.add("other")
            return t
        kind, defn, dmod = r
        if kind == "alias":
            inner = type_of(src, dmod, defn, depth + 1)
            inner.typing_literal += [v for v in t.typing_literal if v not in inner.typing_literal]
            return inner
        if kind == "class":
            if _is_enum(src, defn, dmod):
                t.enum = (defn.name, _enum_members(defn), defn, dmod)
                t.hints.add("other")
            elif _is_dict_subclass(src, defn, dmod):
                t.dict_subclass = True
                t.hints.add("other")
            elif _is_dataclass(defn):
                t.dataclass = defn.name
                t.hints.add("other")
            else:
                t.hints.add("other")
            return t
        t.hints.add("other")
        return t
    t.hints.add("other")
    return t


def dataclass_fields(src: Source, cls: ast.ClassDef, mod: str, depth=0) -> dict[str, tuple[ast.AST, str]]:
    """field name -> (annotation, module), base classes first, as dataclasses.fields() orders them."""
    out: dict[str, tuple[ast.AST, str]] = {}
    if depth < 8:
        for base, bmod in reversed(_class_bases(src, cls, mod)):
            for k, v in dataclass_fields(src, base, bmod, depth + 1).items():
                out.setdefault(k, v)
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            ann = node.annotation
            head = ann.value if isinstance(ann, ast.Subscript) else ann
            hname = head.id if isinstance(head, ast.Name) else getattr(head, "attr", "")
            if hname in ("ClassVar", "InitVar") or (isinstance(ann, ast.Name) and ann.id == "ClassVar"):
                continue
            if node.target.id in out:
                out[node.target.id] = (ann, mod)  # redefinition keeps the original position
            else:
                out[node.target.id] = (ann, mod)
    return out


def _validator_normalises(cls: ast.ClassDef, field: str) -> bool:
    """True when a field_validator of `field` upper- or lower-cases a string value."""
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                if isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "field_validator":
                    if any(isinstance(a, ast.Constant) and a.value == field for a in d.args):
                        body = ast.unparse(node)
                        if ".upper()" in body or ".lower()" in body:
                            return True
    return False


def compute_kwargs(src: Source, cls: ast.ClassDef, mod: str, features: set[str]) -> dict[str, dict]:
    """Our reading of vLLM's _compute_kwargs(cls): field -> argparse kwargs (abstract values)."""
    out: dict[str, dict] = {}
    for name, (ann, fmod) in dataclass_fields(src, cls, mod).items():
        t = type_of(src, fmod, ann)
        if "classvar" in t.hints:
            continue
        kw: dict = {"default": UNKNOWN, "_field": f"{cls.name}.{name}"}
        hints = set(t.hints)
        if t.dict_subclass and "dict_subclass" in features:
            hints.add("dict")
        if t.dataclass:
            kw["type"] = "json"
        elif "bool" in hints and hints <= {"bool", "str", "None"} and "str" in hints and "bool_str_optional" in features:
            kw.update(type="str", nargs="?", const=True)
        elif "bool" in hints:
            kw["action"] = "BooleanOptionalAction"
        elif "Literal" in hints:
            vals = sorted(t.literal, key=lambda v: (str(type(v)), v))
            kw["type"] = type(vals[0]).__name__ if vals else "str"
            if "str" in hints:
                kw["metavar"] = vals  # shown, not enforced
            else:
                kw["choices"] = vals
        elif hints & {"tuple", "list", "set"}:
            kind = "tuple" if "tuple" in hints else "list" if "list" in hints else "set"
            elem = t.elem or TypeInfo()
            kw["nargs"] = t.tuple_len if kind == "tuple" and t.tuple_len else "+"
            if "Literal" in elem.hints and "str" not in elem.hints:
                kw["type"] = "str"
                kw["choices"] = list(elem.literal)
            else:
                kw["type"] = "int" if elem.hints == {"int"} else "float" if elem.hints == {"float"} else "str"
        elif "int" in hints:
            kw["type"] = "int"
        elif "float" in hints:
            kw["type"] = "float"
        elif "dict" in hints:
            kw["type"] = "json"
        elif "str" in hints or "other" in hints:
            kw["type"] = "str"
            if t.enum:
                ename, members, ecls, emod = t.enum
                by_name = _validator_normalises(cls, name)
                kw["_enum"] = {"name": ename, "values": members if by_name else _enum_values(ecls),
                               "case_insensitive": by_name, "strict": by_name}
            elif t.typing_literal:
                kw["metavar"] = sorted(t.typing_literal, key=str)
        else:
            kw["type"] = "str"
        if "None" in hints and "bool" not in hints and kw.get("choices"):
            kw["choices"] = list(kw["choices"]) + ["None"]
        out[name] = kw
    return out


# ---------------------------------------------------------------- the interpreter
class ParserObj:
    def __init__(self, sink: list):
        self.sink = sink


class ClassRef:
    def __init__(self, node: ast.ClassDef, mod: str):
        self.node, self.mod = node, mod


class FuncRef:
    def __init__(self, node, mod: str, cls: ClassRef | None = None, bound=None):
        self.node, self.mod, self.cls, self.bound = node, mod, cls, bound


class ModRef:
    def __init__(self, mod: str):
        self.mod = mod


class Marker:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return f"Marker({self.text})"


class Return(Exception):
    def __init__(self, value):
        self.value = value


SAFE_METHODS = {
    str: {"replace", "lower", "upper", "strip", "startswith", "endswith", "split", "join", "format", "removeprefix"},
    dict: {"items", "keys", "values", "get", "pop", "copy", "update", "setdefault"},
    list: {"append", "extend", "copy", "index", "count"},
}


class Interp:
    def __init__(self, src: Source, features: set[str]):
        self.src = src
        self.features = features
        self.calls: list[dict] = []
        self.depth = 0

    # -- helpers
    def find_method(self, cls: ClassRef, name: str, skip_self=False):
        order = [(cls.node, cls.mod)]
        seen = 0
        while seen < len(order) and len(order) < 20:
            c, m = order[seen]
            seen += 1
            order.extend(_class_bases(self.src, c, m))
        for i, (c, m) in enumerate(order):
            if skip_self and i == 0:
                continue
            for node in c.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                    return FuncRef(node, m, ClassRef(c, m))
        return None

    def call_function(self, fn: FuncRef, args: list, kwargs: dict, self_cls: ClassRef | None = None):
        if self.depth > 30:
            return UNKNOWN
        node = fn.node
        env: dict = {}
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        is_static = any(getattr(d, "id", "") == "staticmethod" for d in node.decorator_list)
        is_cls = any(getattr(d, "id", "") == "classmethod" for d in node.decorator_list)
        if fn.cls is not None and not is_static and params:
            env[params[0]] = self_cls or fn.cls
            params = params[1:]
            if fn.bound is not None:
                env[node.args.args[0].arg] = fn.bound
        defaults = node.args.defaults
        for i, p in enumerate(params):
            di = i - (len(params) - len(defaults))
            env[p] = UNKNOWN if di < 0 else self.eval(defaults[di], env, fn)
        for p, v in zip(params, args):
            env[p] = v
        for k, v in kwargs.items():
            env[k] = v
        env["__class__"] = fn.cls
        env["__self_cls__"] = self_cls or fn.cls
        _ = is_cls
        self.depth += 1
        try:
            self.exec_body(node.body, env, fn)
        except Return as r:
            return r.value
        finally:
            self.depth -= 1
        return None

    # -- statements
    def exec_body(self, body, env, fn):
        for st in body:
            self.exec(st, env, fn)

    def exec(self, st, env, fn):
        if isinstance(st, ast.Expr):
            self.eval(st.value, env, fn)
        elif isinstance(st, ast.Assign):
            value = self.eval(st.value, env, fn)
            for t in st.targets:
                self.assign(t, value, env, fn)
        elif isinstance(st, ast.AnnAssign) and st.value is not None:
            self.assign(st.target, self.eval(st.value, env, fn), env, fn)
        elif isinstance(st, ast.AugAssign):
            cur = self.eval(st.target, env, fn)
            val = self.eval(st.value, env, fn)
            if isinstance(cur, list) and isinstance(val, list):
                self.assign(st.target, cur + val, env, fn)
            else:
                self.assign(st.target, Unknown("augassign"), env, fn)
        elif isinstance(st, ast.Delete):
            for t in st.targets:
                if isinstance(t, ast.Subscript):
                    obj = self.eval(t.value, env, fn)
                    key = self.eval(t.slice, env, fn)
                    if isinstance(obj, dict) and not isinstance(key, Unknown):
                        obj.pop(key, None)
        elif isinstance(st, ast.Return):
            raise Return(self.eval(st.value, env, fn) if st.value is not None else None)
        elif isinstance(st, ast.If):
            test = self.eval(st.test, env, fn)
            if isinstance(test, Unknown):
                self.exec_body(st.body, env, fn)
                self.exec_body(st.orelse, env, fn)
            elif test:
                self.exec_body(st.body, env, fn)
            else:
                self.exec_body(st.orelse, env, fn)
        elif isinstance(st, ast.For):
            it = self.eval(st.iter, env, fn)
            if isinstance(it, (list, tuple)):
                for item in list(it):
                    self.assign(st.target, item, env, fn)
                    self.exec_body(st.body, env, fn)
            elif not isinstance(it, Unknown):
                self.src.warnings.append(f"for-loop over {it!r} not followed in {fn.node.name}")
        elif isinstance(st, ast.ImportFrom):  # imports inside a function
            for a in st.names:
                env[a.asname or a.name] = self.lookup(a.name, {}, FuncRef(None, self.src._abs_module(fn.mod, st)))
        elif isinstance(st, (ast.With, ast.Try)):
            self.exec_body(st.body, env, fn)
            for h in getattr(st, "handlers", []):
                pass
            self.exec_body(getattr(st, "finalbody", []), env, fn)
        # def / class / import / pass / raise inside functions: nothing that adds flags

    def assign(self, target, value, env, fn):
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            vals = list(value) if isinstance(value, (list, tuple)) else [UNKNOWN] * len(target.elts)
            for t, v in zip(target.elts, vals):
                self.assign(t, v, env, fn)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value, env, fn)
            key = self.eval(target.slice, env, fn)
            if isinstance(obj, dict) and isinstance(key, (str, int)):
                obj[key] = value

    # -- expressions
    def eval(self, node, env, fn):
        try:
            return self._eval(node, env, fn)
        except Return:
            raise
        except Exception as exc:  # noqa: BLE001 - anything odd is simply unknown
            return Unknown(f"{type(exc).__name__}: {exc}")

    def lookup(self, name, env, fn):
        if name in env:
            return env[name]
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        if name in ("str", "int", "float", "bool", "dict", "list"):
            return Marker(name)
        r = self.src.resolve(fn.mod, name)
        if r is None:
            return Unknown(name)
        kind, node, mod = r
        if kind == "class":
            return ClassRef(node, mod)
        if kind == "func":
            return FuncRef(node, mod)
        if kind == "module":
            return ModRef(mod)
        return Unknown(name)

    def _eval(self, node, env, fn):
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.lookup(node.id, env, fn)
        if isinstance(node, (ast.List, ast.Tuple)):
            vals = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    v = self.eval(e.value, env, fn)
                    vals.extend(v if isinstance(v, (list, tuple)) else [Unknown("starred")])
                else:
                    vals.append(self.eval(e, env, fn))
            return vals if isinstance(node, ast.List) else tuple(vals)
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    sub = self.eval(v, env, fn)
                    if isinstance(sub, dict):
                        out.update(sub)
                else:
                    out[self.eval(k, env, fn)] = self.eval(v, env, fn)
            return out
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                x = self.eval(v.value if isinstance(v, ast.FormattedValue) else v, env, fn)
                if isinstance(x, Unknown):
                    return x
                parts.append(str(x))
            return "".join(parts)
        if isinstance(node, ast.Subscript):
            obj = self.eval(node.value, env, fn)
            if isinstance(node.slice, ast.Slice):
                if isinstance(obj, (list, tuple, str)):
                    lo = self.eval(node.slice.lower, env, fn) if node.slice.lower else None
                    hi = self.eval(node.slice.upper, env, fn) if node.slice.upper else None
                    return obj[lo:hi]
                return Unknown("slice")
            key = self.eval(node.slice, env, fn)
            if isinstance(obj, (dict, list, tuple)) and not isinstance(key, Unknown):
                return obj[key]
            return Unknown("subscript")
        if isinstance(node, ast.Attribute):
            obj = self.eval(node.value, env, fn)
            return self.attr(obj, node.attr, env, fn)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            a = self.eval(node.left, env, fn)
            b = self.eval(node.comparators[0], env, fn)
            if isinstance(a, Unknown) or isinstance(b, Unknown):
                return Unknown("compare")
            op = node.ops[0]
            if isinstance(op, ast.In):
                return a in b
            if isinstance(op, ast.NotIn):
                return a not in b
            if isinstance(op, ast.Eq):
                return a == b
            if isinstance(op, ast.NotEq):
                return a != b
            if isinstance(op, ast.Is):
                return a is b
            if isinstance(op, ast.IsNot):
                return a is not b
            return Unknown("compare")
        if isinstance(node, ast.BoolOp):
            vals = [self.eval(v, env, fn) for v in node.values]
            if any(isinstance(v, Unknown) for v in vals):
                return Unknown("boolop")
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self.eval(node.operand, env, fn)
            return v if isinstance(v, Unknown) else (not v)
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left, env, fn), self.eval(node.right, env, fn)
            if isinstance(node.op, ast.Add) and type(a) is type(b) and isinstance(a, (str, list, tuple)):
                return a + b
            return Unknown("binop")
        if isinstance(node, ast.Lambda):
            return Marker("lambda:" + ast.unparse(node.body))
        if isinstance(node, ast.Call):
            return self.call(node, env, fn)
        return Unknown(type(node).__name__)

    def attr(self, obj, name, env, fn):
        if isinstance(obj, ModRef):
            if obj.mod == "argparse":
                return Marker(name)
            if obj.mod == "sys" and name == "argv":
                return ["vllm", "serve"]
            r = self.src.resolve(obj.mod, name)
            if r is None:
                return Unknown(f"{obj.mod}.{name}")
            kind, node, mod = r
            return ClassRef(node, mod) if kind == "class" else FuncRef(node, mod) if kind == "func" \
                else ModRef(mod) if kind == "module" else Unknown(name)
        if isinstance(obj, ClassRef):
            m = self.find_method(obj, name)
            if m is not None:
                m.bound = None
                return ("method", m, obj)
            return Unknown(f"{obj.node.name}.{name}")
        if isinstance(obj, ParserObj):
            return ("parser", obj, name)
        if isinstance(obj, tuple) and obj and obj[0] == "super":
            _, cur_cls, self_cls = obj
            m = self.find_method(cur_cls, name, skip_self=True)
            return ("method", m, self_cls) if m else Unknown("super")
        for typ, names in SAFE_METHODS.items():
            if isinstance(obj, typ) and name in names:
                return ("pymethod", obj, name)
        return Unknown(f".{name}")

    def call(self, node: ast.Call, env, fn):
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.eval(a.value, env, fn)
                args.extend(v if isinstance(v, (list, tuple)) else [Unknown("*args")])
            else:
                args.append(self.eval(a, env, fn))
        kwargs: dict = {}
        for k in node.keywords:
            v = self.eval(k.value, env, fn)
            if k.arg is None:
                if isinstance(v, dict):
                    kwargs.update(v)
                else:
                    kwargs["_unresolved_kwargs"] = ast.unparse(k.value)
            else:
                kwargs[k.arg] = v
        f = node.func
        # super()
        if isinstance(f, ast.Name) and f.id == "super":
            return ("super", env.get("__class__"), env.get("__self_cls__"))
        if isinstance(f, ast.Name) and f.id in ("get_kwargs", "_compute_kwargs") and args \
                and isinstance(args[0], ClassRef):
            c = args[0]
            return copy.deepcopy(compute_kwargs(self.src, c.node, c.mod, self.features))
        if isinstance(f, ast.Attribute) and f.attr == "deepcopy" and args:
            return copy.deepcopy(args[0]) if not isinstance(args[0], (ParserObj, ClassRef)) else args[0]
        target = self.eval(f, env, fn)
        if isinstance(target, tuple) and target and target[0] == "parser":
            _, pobj, meth = target
            if meth == "add_argument":
                self.record(args, kwargs, node)
                return Marker("action")
            if meth in ("add_argument_group", "add_mutually_exclusive_group", "add_parser", "add_subparsers"):
                return ParserObj(pobj.sink)
            return UNKNOWN
        if isinstance(target, tuple) and target and target[0] == "pymethod":
            _, obj, meth = target
            if any(isinstance(a, Unknown) for a in args):
                return Unknown("pymethod args")
            res = getattr(obj, meth)(*args, **{k: v for k, v in kwargs.items() if not k.startswith("_")})
            return list(res) if type(res).__name__ in ("dict_items", "dict_keys", "dict_values") else res
        if isinstance(target, tuple) and target and target[0] == "method":
            _, m, self_cls = target
            if m is None:
                return UNKNOWN
            return self.call_function(m, args, kwargs, self_cls=self_cls)
        if isinstance(target, FuncRef):
            # only follow vLLM's own functions that get a parser or a kwargs table
            if any(isinstance(a, (ParserObj, dict)) for a in list(args) + list(kwargs.values())):
                return self.call_function(target, args, kwargs)
            return Unknown(f"call {target.node.name}")
        if isinstance(target, ClassRef):
            return Unknown(f"instance of {target.node.name}")
        return Unknown("call")

    def record(self, args, kwargs, node):
        self.calls.append({"args": args, "kwargs": kwargs, "line": node.lineno})


# ---------------------------------------------------------------- from argparse calls to flags
NO_VALUE_ACTIONS = {"store_true", "store_false", "store_const", "count", "help", "version",
                    "BooleanOptionalAction"}


def _plain(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Marker):
        return v.text
    return None


def to_flags(calls: list[dict], warnings: list[str]) -> tuple[dict, list[str]]:
    flags: dict[str, dict] = {}
    positionals: list[str] = []
    for c in calls:
        opts = [a for a in c["args"] if isinstance(a, str)]
        if any(isinstance(a, Unknown) for a in c["args"]):
            warnings.append(f"line {c['line']}: option string not resolved: {c['args']}")
        if not opts:
            continue
        if not opts[0].startswith("-"):
            positionals.append(opts[0])
            continue
        kw = c["kwargs"]
        if "_unresolved_kwargs" in kw:
            warnings.append(f"{opts[0]}: kwargs not resolved ({kw['_unresolved_kwargs']})")
        action = kw.get("action")
        action_name = action.text if isinstance(action, Marker) else action if isinstance(action, str) else \
            ("custom" if action is not None else "store")
        if isinstance(action, Unknown):
            action_name = "custom"
        nargs = kw.get("nargs")
        nargs = nargs if isinstance(nargs, (int, str)) else None
        takes_value = action_name not in NO_VALUE_ACTIONS and nargs != 0
        longs = [o for o in opts if o.startswith("--")]
        name = longs[0] if longs else opts[0]
        dest = kw.get("dest") if isinstance(kw.get("dest"), str) else name.lstrip("-").replace("-", "_")
        choices = kw.get("choices")
        strict = True
        case_insensitive = False
        if not isinstance(choices, list):
            choices = None
        if choices is None and isinstance(kw.get("metavar"), list):
            choices, strict = kw["metavar"], False
        enum = kw.get("_enum")
        if choices is None and isinstance(enum, dict):
            choices = list(enum["values"])
            case_insensitive = bool(enum["case_insensitive"])
            strict = bool(enum["strict"])
            if case_insensitive:
                choices = ["auto"] + choices
        typ = kw.get("type")
        if isinstance(typ, Marker) and typ.text.startswith("lambda:") and ".lower()" in typ.text:
            case_insensitive = True
        if choices is not None:
            choices = [str(x) for x in choices if x is not None]
        type_name = typ if isinstance(typ, str) else typ.text if isinstance(typ, Marker) and typ.text in \
            ("str", "int", "float") else None
        if typ is not None and type_name is None and takes_value:
            type_name = "custom"
        if typ is None and takes_value:
            type_name = "str"  # argparse's default
        info = {
            "takes_value": takes_value if nargs != "?" else "optional",
            "nargs": nargs,
            "choices": choices,
            "choices_strict": strict if choices is not None else None,
            "case_insensitive": case_insensitive if choices is not None else None,
            "type": type_name if takes_value else None,
            "dest": dest,
            "aliases": [o for o in opts if o != name],
            "negatable": action_name == "BooleanOptionalAction",
            "repeatable": action_name == "append",
            "deprecated": bool(kw.get("deprecated") is True),
            "field": kw.get("_field"),
        }
        if name in flags:
            warnings.append(f"{name} added twice (lines {c['line']})")
        flags[name] = info
    return dict(sorted(flags.items())), positionals


# ---------------------------------------------------------------- driving one version
def detect_features(src: Source) -> set[str]:
    feats = set()
    arg_utils = src.path_of("vllm.engine.arg_utils")
    text = arg_utils.read_text(encoding="utf-8") if arg_utils else ""
    if "type_hints == {bool, str, type(None)}" in text:
        feats.add("bool_str_optional")
    if "is_dict_subclass" in text:
        feats.add("dict_subclass")
    return feats


def parser_features(src: Source) -> dict:
    p = src.path_of("vllm.utils.argparse_utils")
    text = p.read_text(encoding="utf-8") if p else ""
    return {
        "underscores_accepted": 'replace("_", "-")' in text,
        "dotted_json_keys": '"." in processed_arg' in text,
        "optimization_shorthand_O": 'startswith("-O")' in text,
        # -O3 / -O 3 / -O=3 become this flag (0.11: the compilation config's mode; later: --optimization-level)
        "O_shorthand_target": "--optimization-level" if '"--optimization-level"' in text
        else "--compilation-config" if "-O.mode" in text else None,
        "allow_abbrev": "allow_abbrev=False" not in text,
        "config_file_option": "--config" in text,
    }


def serve_entry(src: Source) -> tuple[FuncRef, ClassRef | None]:
    """The `subparser_init` of the serve subcommand (falls back to make_arg_parser)."""
    mod = "vllm.entrypoints.cli.serve"
    tree = src.module(mod)
    if tree is None:
        raise GenError("vllm/entrypoints/cli/serve.py not found")
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "subparser_init":
                    return FuncRef(f, mod, ClassRef(node, mod)), ClassRef(node, mod)
    raise GenError("serve subparser_init not found")


def generate(src: Source) -> tuple[dict, list[str], dict]:
    feats = detect_features(src)
    interp = Interp(src, feats)
    fn, cls = serve_entry(src)
    subparsers = ParserObj(interp.calls)
    interp.call_function(fn, [subparsers], {}, self_cls=cls)
    flags, positionals = to_flags(interp.calls, src.warnings)
    # argparse adds -h/--help to every parser (add_help=True is never turned off for serve)
    flags.setdefault("--help", {"takes_value": False, "nargs": None, "choices": None, "choices_strict": None,
                                "case_insensitive": None, "type": None, "dest": "help", "aliases": ["-h"],
                                "negatable": False, "repeatable": False, "deprecated": False, "field": None})
    return dict(sorted(flags.items())), positionals, parser_features(src)


def version_key(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)[:4])


def fetch_wheel(version: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"vllm-{version}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={version}", "--no-deps",
                        "--only-binary", ":all:", "-d", str(cache), "-q"], check=True)
        found = sorted(cache.glob(f"vllm-{version}-*.whl"))
    if not found:
        raise GenError(f"no wheel for vllm=={version}")
    return found[0]


def unpack_wheel(wheel: Path, dest: Path) -> Path:
    if not (dest / "vllm" / "engine" / "arg_utils.py").exists():
        with zipfile.ZipFile(wheel) as z:
            for n in z.namelist():
                if n.startswith("vllm/") and n.endswith(".py"):
                    z.extract(n, dest)
    return dest


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_version(label: str, src: Source, source_note: dict, out: Path) -> dict:
    flags, positionals, pfeats = generate(src)
    ngc = [tag for tag, (v, _) in NGC.items() if v == label]
    data = {
        "vllm_version": label,
        "source": source_note,
        "ngc_containers": [f"nvcr.io/nvidia/vllm:{t}-py3" for t in ngc],
        "generated_by": "scripts/gen_vllm_flags.py (static reading of vLLM's source with ast)",
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"),
        "command": "vllm serve",
        "positionals": positionals,
        "parser": pfeats,
        "files_read": sorted(src.files_read),
        "warnings": src.warnings,
        "flag_count": len(flags),
        "flags": flags,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{label}.json").write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return data


def write_index(out: Path) -> None:
    versions = sorted((p.stem for p in out.glob("*.json") if p.stem != "index"), key=version_key)
    index = {
        "versions": versions,
        "ngc": {tag: {"vllm": v, "source": s} for tag, (v, s) in NGC.items()},
        "generated_by": "scripts/gen_vllm_flags.py",
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--versions", nargs="+", default=DEFAULT_VERSIONS, help="vLLM versions from PyPI")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/sparkpilot-vllm-src"),
                    help="where wheels and unpacked sources go (never committed)")
    ap.add_argument("--src", type=Path, help="read this source tree (a dir holding vllm/) instead of PyPI")
    ap.add_argument("--label", help="version label for --src")
    ap.add_argument("--source-note", default="", help="where --src came from (image tag, git commit)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        if args.src:
            if not args.label:
                raise GenError("--src needs --label VERSION")
            note = {"kind": "source tree", "path": str(args.src), "note": args.source_note}
            data = write_version(args.label, Source(args.src), note, args.out)
            print(f"{args.label}: {data['flag_count']} flags, {len(data['warnings'])} warnings")
        else:
            for v in args.versions:
                wheel = fetch_wheel(v, args.cache)
                tree = unpack_wheel(wheel, args.cache / v)
                note = {"kind": "PyPI wheel", "package": f"vllm=={v}", "file": wheel.name,
                        "sha256": sha256(wheel)}
                data = write_version(v, Source(tree), note, args.out)
                print(f"{v}: {data['flag_count']} flags, {len(data['warnings'])} warnings")
                for w in data["warnings"]:
                    print(f"   warning: {w}")
        write_index(args.out)
    except (GenError, subprocess.CalledProcessError) as exc:
        print(f"gen_vllm_flags: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
