"""What vLLM's get_kwargs(ConfigClass) makes of each dataclass field, read statically; and the
argparse calls recorded by the interpreter turned into flag entries."""

from __future__ import annotations

import ast

from vllm_static.source import BUILTIN_TYPES, UNKNOWN, Marker, Source, Unknown


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
                ename, members, ecls, _emod = t.enum
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


