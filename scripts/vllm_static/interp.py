"""A small interpreter for the vLLM functions that build the `vllm serve` parser: it runs their
statements over abstract values and records every add_argument call."""

from __future__ import annotations

import ast
import copy
from typing import Any

from vllm_static.fields import _class_bases, compute_kwargs
from vllm_static.source import UNKNOWN, Marker, Source, Unknown


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
        for p, v in zip(params, args, strict=False):
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
            for _h in getattr(st, "handlers", []):
                pass
            self.exec_body(getattr(st, "finalbody", []), env, fn)
        # def / class / import / pass / raise inside functions: nothing that adds flags

    def assign(self, target, value, env, fn):
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            vals = list(value) if isinstance(value, (list, tuple)) else [UNKNOWN] * len(target.elts)
            for t, v in zip(target.elts, vals, strict=False):
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
            vals: list[Any] = []
            for e in node.elts:
                if isinstance(e, ast.Starred):
                    v = self.eval(e.value, env, fn)
                    vals.extend(v if isinstance(v, (list, tuple)) else [Unknown("starred")])
                else:
                    vals.append(self.eval(e, env, fn))
            return vals if isinstance(node, ast.List) else tuple(vals)
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values, strict=False):
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
        args: list[Any] = []
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


