"""What ``rust_core`` exports, read from the crate's PyO3 registrations and the built module.

The audit needs the Python-visible name and signature of every Rust function to tell a dead
hook (the name is not exported) or a call with the wrong arity. Two sources are read:

* the Rust source under ``rust_core/src``: ``m.add_function(wrap_pyfunction!(ident, m)?)``
  registrations, ``#[pyo3(name = "...")]`` renames, ``#[pyo3(signature = (...))]`` or the
  fn parameters, ``m.add_class::<T>()`` with ``#[pyclass(name = "...")]``, and submodules
  made with ``PyModule::new(py, "name")`` and ``add_submodule``. A regular expression over
  Rust source is enough here: PyO3 registrations are a handful of fixed forms.
* the built extension, when ``import rust_core`` works: ``inspect.signature`` of each export
  (PyO3 sets ``__text_signature__``).

Everything here is a plain frozen dataclass so it pickles to the worker processes.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Param",
    "Registration",
    "RustExports",
    "RustSignature",
    "find_rust_core_dir",
    "load_built_exports",
    "merge_exports",
    "parse_rust_source",
    "read_rust_exports",
]


@dataclass(frozen=True)
class Param:
    """One parameter of a Rust function as Python sees it."""

    name: str
    kind: (
        str  # "positional_only" | "positional" | "keyword_only" | "var_positional" | "var_keyword"
    )
    has_default: bool = False


@dataclass(frozen=True)
class RustSignature:
    """The Python-visible signature of an exported Rust function."""

    params: tuple[Param, ...]

    def check_call(
        self, positional: int, keywords: Iterable[str], has_star: bool, has_double_star: bool
    ) -> str | None:
        """Why a call with this argument shape fails against the signature; None if it fits.

        Star-expanded arguments make the count unknowable, so only what is certain is
        reported: too many explicit positionals, unknown or duplicated keywords, and
        required parameters that nothing can supply.
        """
        keywords = list(keywords)
        positional_slots = [p for p in self.params if p.kind in ("positional_only", "positional")]
        var_positional = any(p.kind == "var_positional" for p in self.params)
        var_keyword = any(p.kind == "var_keyword" for p in self.params)
        if positional > len(positional_slots) and not var_positional:
            return (
                f"passes {positional} positional argument(s), Rust takes at most "
                f"{len(positional_slots)}"
            )
        filled = {p.name for p in positional_slots[:positional]}
        by_name = {p.name: p for p in self.params if p.kind in ("positional", "keyword_only")}
        for keyword in keywords:
            if keyword in filled:
                return f"passes {keyword!r} both by position and by keyword"
            if keyword not in by_name and not var_keyword:
                return f"passes keyword {keyword!r}, which the Rust signature does not have"
            filled.add(keyword)
        if has_star or has_double_star:
            return None
        missing = [
            p.name
            for p in self.params
            if p.kind in ("positional_only", "positional", "keyword_only")
            and not p.has_default
            and p.name not in filled
        ]
        if missing:
            return "does not pass required Rust argument(s) " + ", ".join(repr(m) for m in missing)
        return None

    def render(self) -> str:
        """The signature as Python would print it, e.g. ``(data, algorithm=...)``."""
        parts: list[str] = []
        saw_kw_marker = False
        for index, param in enumerate(self.params):
            if param.kind == "keyword_only" and not saw_kw_marker:
                parts.append("*")
                saw_kw_marker = True
            prefix = {"var_positional": "*", "var_keyword": "**"}.get(param.kind, "")
            if param.kind == "var_positional":
                saw_kw_marker = True
            parts.append(prefix + param.name + ("=..." if param.has_default else ""))
            nxt = self.params[index + 1] if index + 1 < len(self.params) else None
            if param.kind == "positional_only" and (nxt is None or nxt.kind != "positional_only"):
                parts.append("/")
        return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Registration:
    """One name added to the module (or a submodule) in Rust source."""

    name: str  # Python name, dotted for submodule members ("sub.f")
    ident: str  # Rust identifier registered
    kind: str  # "function" | "class" | "submodule" | "attribute"
    file: str
    line: int


@dataclass(frozen=True)
class RustExports:
    """Exports of ``rust_core`` from its source and, when importable, its built module."""

    source_dir: str | None = None
    source_names: frozenset[str] | None = None
    built_file: str | None = None
    built_names: frozenset[str] | None = None
    signatures: dict[str, RustSignature] = field(default_factory=dict)
    registrations: tuple[Registration, ...] = ()

    def exported(self, name: str) -> tuple[bool | None, bool | None]:
        """Whether ``name`` is exported per the source and per the built module (None: unknown)."""
        in_source = None if self.source_names is None else name in self.source_names
        in_built = None if self.built_names is None else name in self.built_names
        return in_source, in_built

    @property
    def known(self) -> bool:
        """True when at least one source of exports was read."""
        return self.source_names is not None or self.built_names is not None

    def duplicates(self) -> dict[str, tuple[Registration, ...]]:
        """Python names registered more than once in the source (the later one wins)."""
        seen: dict[str, list[Registration]] = {}
        for reg in self.registrations:
            seen.setdefault(reg.name, []).append(reg)
        return {name: tuple(regs) for name, regs in seen.items() if len(regs) > 1}


# --- Rust source -------------------------------------------------------------------------

_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
# Attributes may span lines (rustfmt wraps long `#[pyo3(signature = (...))]`) and hold one
# level of brackets (`#[pyo3(signature = (xs = vec![]))]`).
_FN_RE = re.compile(
    r"((?:\s*#\[(?:[^\[\]]|\[[^\]]*\])*\]\s*)*)\s*(?:pub(?:\([^)]*\))?\s+)?fn\s+(\w+)\s*(<[^(]*>)?\s*\("
)
_ATTR_RE = re.compile(r"#\[(pyo3|pyfunction)\s*(\(.*?\))?\s*\]", re.DOTALL)
# `signature = (...)`, not `text_signature = "(...)"` (the text PyO3 shows, `$self` included).
_SIGNATURE_RE = re.compile(r"\bsignature\s*=\s*\(")
_ATTR_NAME_RE = re.compile(r"\bname\s*=\s*\"([^\"]+)\"")
# `wrap_pyfunction!(f, m)`, path-qualified (`pyo3::wrap_pyfunction!(formula::f, m)`) or
# the `_bound` spelling; the receiver is read before it (`m.add_function(`) or through a
# `let f = wrap_pyfunction!(...)?;` later handed to `m.add_function(f)`.
_WRAP_FN_RE = re.compile(r"(?:\w+::)*wrap_pyfunction(?:_bound)?!\s*\(\s*([\w:]+)")
_ADD_BEFORE_RE = re.compile(r"(\w+)\s*\.\s*add_(?:function|wrapped)\s*\(\s*(?:&\s*)?$")
_LET_BEFORE_RE = re.compile(r"let\s+(?:mut\s+)?(\w+)(?:\s*:[^=;]+)?\s*=\s*(?:&\s*)?$")
_WRAP_MODULE_RE = re.compile(
    r"(\w+)\s*\.\s*add_wrapped\s*\(\s*(?:&\s*)?(?:\w+::)*wrap_pymodule!\s*\(\s*([\w:]+)"
)
_PYMODULE_ITEM_RE = re.compile(
    r"#\[pymodule\b[^\]]*\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(fn|mod)\s+(\w+)"
)
_EXPORT_USE_RE = re.compile(r"#\[pymodule_export\]\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
_EXPORT_CONST_RE = re.compile(
    r"#\[pymodule_export\]\s*(?:pub(?:\([^)]*\))?\s+)?(?:const|static)\s+(\w+)"
)
_DECL_FN_RE = re.compile(
    r"#\[pyfunction\b[^\]]*\]\s*(?:#\[(?:[^\[\]]|\[[^\]]*\])*\]\s*)*"
    r"(?:pub(?:\([^)]*\))?\s+)?fn\s+(\w+)"
)
_ADD_CLASS_RE = re.compile(r"(\w+)\s*\.\s*add_class\s*::\s*<\s*([\w:]+)\s*>")
_ADD_ATTR_RE = re.compile(r"(\w+)\s*\.\s*add\s*\(\s*\"([^\"]+)\"")
_NEW_MODULE_RE = re.compile(
    # The first argument is the Python token: `py`, `m.py()`, `module.py()`...
    r"let\s+(?:mut\s+)?(\w+)\s*=\s*PyModule::new(?:_bound)?\s*\(\s*[\w.()]+\s*,\s*\"([^\"]+)\""
)
_ADD_SUBMODULE_RE = re.compile(r"(\w+)\s*\.\s*add_submodule\s*\(\s*&?\s*(\w+)")
_PYCLASS_RE = re.compile(
    r"#\[pyclass([^\]]*)\]\s*(?:#\[[^\n]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum)\s+(\w+)"
)


def _strip_comments(text: str) -> str:
    # Keep newlines so line numbers survive.
    return _COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def _balanced(text: str, start: int) -> tuple[str, int]:
    """The text inside the bracket opening at ``start`` and the index after its close."""
    pairs = {"(": ")", "[": "]", "{": "}", "<": ">"}
    stack = [pairs[text[start]]]
    i = start + 1
    while i < len(text) and stack:
        ch = text[i]
        if ch == '"':
            j = text.find('"', i + 1)
            while j != -1 and text[j - 1] == "\\":
                j = text.find('"', j + 1)
            i = len(text) if j == -1 else j
        elif ch in "([{":
            stack.append(pairs[ch])
        elif ch == "<" and stack[-1] == ">":
            stack.append(">")
        elif ch == stack[-1]:
            stack.pop()
        elif ch == "-" and i + 1 < len(text) and text[i + 1] == ">":
            i += 1
        i += 1
    return text[start + 1 : i - 1], i


def _split_top(text: str) -> list[str]:
    """Splits on commas that are not nested in brackets or strings."""
    parts, depth, current, in_str = [], 0, [], False
    for i, ch in enumerate(text):
        if in_str:
            current.append(ch)
            if ch == '"' and text[i - 1] != "\\":
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>" and not (ch == ">" and i > 0 and text[i - 1] == "-"):
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return [p for p in parts if p]


def _signature_from_attr(spec: str) -> RustSignature:
    params: list[Param] = []
    keyword_only = False
    for item in _split_top(spec):
        if item == "*":
            keyword_only = True
        elif item == "/":
            params = [
                Param(p.name, "positional_only", p.has_default) if p.kind == "positional" else p
                for p in params
            ]
        elif item.startswith("**"):
            params.append(Param(item[2:].strip(), "var_keyword"))
        elif item.startswith("*"):
            params.append(Param(item[1:].strip(), "var_positional"))
            keyword_only = True
        else:
            name, _, default = item.partition("=")
            kind = "keyword_only" if keyword_only else "positional"
            params.append(Param(name.strip(), kind, bool(default.strip())))
    return RustSignature(tuple(params))


def _signature_from_params(params_text: str) -> RustSignature:
    params: list[Param] = []
    raw = _split_top(params_text)
    for item in raw:
        name, _, typ = item.partition(":")
        name = name.strip().removeprefix("mut ").strip()
        typ = typ.strip()
        if name in ("self", "&self", "&mut self") or name.endswith("self"):
            continue
        if typ.startswith("Python<") or typ == "Python":
            continue
        params.append(Param(name, "positional"))
    # PyO3 historically treats trailing Option<T> arguments as optional; be lenient.
    result = list(params)
    for index in range(len(raw) - 1, -1, -1):
        typ = raw[index].partition(":")[2].strip()
        if not typ.startswith("Option<"):
            break
        name = raw[index].partition(":")[0].strip().removeprefix("mut ").strip()
        result = [Param(p.name, p.kind, True) if p.name == name else p for p in result]
    return RustSignature(tuple(result))


@dataclass(frozen=True)
class _RustFn:
    ident: str
    python_name: str
    signature: RustSignature
    is_pyfunction: bool


def _parse_fns(text: str) -> dict[str, _RustFn]:
    fns: dict[str, _RustFn] = {}
    for match in _FN_RE.finditer(text):
        attrs, ident = match.group(1), match.group(2)
        is_py = "#[pyfunction" in attrs
        open_paren = match.end() - 1
        params_text, _ = _balanced(text, open_paren)
        python_name = ident
        signature: RustSignature | None = None
        for attr_match in _ATTR_RE.finditer(attrs):
            body = attr_match.group(2) or ""
            name_match = _ATTR_NAME_RE.search(body)
            if name_match:
                python_name = name_match.group(1)
            sig_match = _SIGNATURE_RE.search(body)
            if sig_match:
                spec, _ = _balanced(body, sig_match.end() - 1)
                signature = _signature_from_attr(spec)
        if signature is None:
            signature = _signature_from_params(params_text)
        fns[ident] = _RustFn(ident, python_name, signature, is_py)
    return fns


def parse_rust_source(files: dict[str, str]) -> tuple[list[Registration], dict[str, RustSignature]]:
    """Registrations and signatures from Rust source texts keyed by file name.

    Returns every registration in file order (duplicates kept, so they can be reported) and
    the signature of each registered function by its Python name.
    """
    texts = {name: _strip_comments(text) for name, text in files.items()}
    fns: dict[str, _RustFn] = {}
    file_fns: dict[str, dict[str, _RustFn]] = {}
    classes: dict[str, str] = {}
    for file, text in texts.items():
        file_fns[file] = _parse_fns(text)
        # A plain Rust fn of the same name elsewhere (a core's `parse`) must not hide the
        # #[pyfunction] one; the registering file's own fn wins below in any case.
        for ident, fn in file_fns[file].items():
            if fn.is_pyfunction or ident not in fns:
                fns[ident] = fn
        for match in _PYCLASS_RE.finditer(text):
            name_match = _ATTR_NAME_RE.search(match.group(1))
            classes[match.group(2)] = name_match.group(1) if name_match else match.group(2)
    registrations: list[Registration] = []
    signatures: dict[str, RustSignature] = {}
    for file, text in texts.items():
        submodules = {m.group(1): m.group(2) for m in _NEW_MODULE_RE.finditer(text)}

        def qualify(receiver: str, name: str, submodules: dict[str, str] = submodules) -> str:
            return f"{submodules[receiver]}.{name}" if receiver in submodules else name

        def line_of(pos: int, text: str = text) -> int:
            return text.count("\n", 0, pos) + 1

        found: list[tuple[int, Registration]] = []
        modules = _pymodule_items(text)
        wrapped = {
            m.group(2).rsplit("::", 1)[-1]
            for t in texts.values()
            for m in _WRAP_MODULE_RE.finditer(t)
        }

        def in_submodule(
            pos: int,
            modules: list[tuple[str, str, int, int]] = modules,
            wrapped: set[str] = wrapped,
        ) -> str:
            # Inside `#[pymodule] fn sub(m)` that another module adds with wrap_pymodule!.
            for kind, ident, start, end in modules:
                if kind == "fn" and start <= pos < end and ident in wrapped:
                    return ident + "."
            return ""

        for match in _WRAP_FN_RE.finditer(text):
            receiver = _receiver(text, match.start(), match.end())
            if receiver is None:
                continue
            ident = match.group(1).rsplit("::", 1)[-1]
            wrapped_fn = file_fns[file].get(ident) or fns.get(ident)
            python_name = wrapped_fn.python_name if wrapped_fn else ident
            name = in_submodule(match.start()) + qualify(receiver, python_name)
            found.append((match.start(), Registration(name, ident, "function", file, 0)))
            if wrapped_fn is not None:
                signatures[name] = wrapped_fn.signature
        for match in _WRAP_MODULE_RE.finditer(text):
            ident = match.group(2).rsplit("::", 1)[-1]
            name = in_submodule(match.start()) + qualify(match.group(1), ident)
            found.append((match.start(), Registration(name, ident, "submodule", file, 0)))
        for pos, reg in _declarative(text, file, modules, texts, fns, classes):
            found.append((pos, reg))
            declared = fns.get(reg.ident)
            if reg.kind == "function" and declared is not None:
                signatures[reg.name] = declared.signature
        for match in _ADD_CLASS_RE.finditer(text):
            ident = match.group(2).rsplit("::", 1)[-1]
            name = in_submodule(match.start()) + qualify(match.group(1), classes.get(ident, ident))
            found.append((match.start(), Registration(name, ident, "class", file, 0)))
        for match in _ADD_ATTR_RE.finditer(text):
            name = qualify(match.group(1), match.group(2))
            found.append((match.start(), Registration(name, name, "attribute", file, 0)))
        for match in _ADD_SUBMODULE_RE.finditer(text):
            sub = submodules.get(match.group(2), match.group(2))
            name = qualify(match.group(1), sub)
            found.append((match.start(), Registration(name, match.group(2), "submodule", file, 0)))
        for pos, reg in sorted(found, key=lambda item: item[0]):
            registrations.append(
                Registration(reg.name, reg.ident, reg.kind, reg.file, line_of(pos))
            )
    return registrations, signatures


def _receiver(text: str, start: int, end: int) -> str | None:
    """The module a ``wrap_pyfunction!`` at ``start`` is added to, or None if to none."""
    before = _ADD_BEFORE_RE.search(text[max(0, start - 200) : start])
    if before:
        return before.group(1)
    let = _LET_BEFORE_RE.search(text[max(0, start - 200) : start])
    if let:
        later = re.compile(
            r"(\w+)\s*\.\s*add_(?:function|wrapped)\s*\(\s*(?:&\s*)?"
            + re.escape(let.group(1))
            + r"\b"
        ).search(text, end)
        if later:
            return later.group(1)
    return None


def _pymodule_items(text: str) -> list[tuple[str, str, int, int]]:
    """``(fn|mod, ident, body start, body end)`` of each ``#[pymodule]`` item."""
    items = []
    for match in _PYMODULE_ITEM_RE.finditer(text):
        brace = text.find("{", match.end())
        if brace == -1:
            continue
        _, end = _balanced(text, brace)
        items.append((match.group(1), match.group(2), brace, end))
    return items


def _use_names(tree: str) -> list[tuple[str, str]]:
    """``(ident, exported name)`` of a ``use`` tree: ``a::{b, c as d}`` gives b and d."""
    tree = " ".join(tree.split())
    items = [tree]
    if "{" in tree:
        items = _split_top(tree.partition("{")[2].rstrip().removesuffix("}"))
    found = []
    for item in items:
        path, _, alias = item.partition(" as ")
        ident = path.replace(" ", "").rsplit("::", 1)[-1]
        if ident and ident != "self":
            found.append((ident, alias.strip() or ident))
    return found


def _declarative(
    text: str,
    file: str,
    modules: list[tuple[str, str, int, int]],
    texts: dict[str, str],
    fns: dict[str, _RustFn],
    classes: dict[str, str],
) -> list[tuple[int, Registration]]:
    """Names of declarative ``#[pymodule] mod m { ... }`` modules (PyO3 0.22+).

    ``#[pymodule_export] use path::{f, g};`` and ``const``s export what they name; a
    ``#[pyfunction]`` or ``#[pyclass]`` declared in the body is exported too. A nested
    ``#[pymodule] mod`` (or one exported by another module's ``use``) is a submodule whose
    names are dotted.
    """
    mods = [(ident, start, end) for kind, ident, start, end in modules if kind == "mod"]
    exported_mods = {
        alias
        for t in texts.values()
        for use in _EXPORT_USE_RE.finditer(t)
        for _, alias in _use_names(use.group(1))
    }
    module_idents = {ident for t in texts.values() for _, ident, _, _ in _pymodule_items(t)}

    def prefix_of(pos: int) -> str:
        # The chain of enclosing declarative modules; the outermost is the extension itself
        # unless another module exports it.
        chain = [ident for ident, start, end in mods if start <= pos < end]
        if chain and chain[0] not in exported_mods:
            chain = chain[1:]
        return "".join(f"{c}." for c in chain)

    def innermost(pos: int) -> tuple[str, int, int] | None:
        inside = [(i, s, e) for i, s, e in mods if s <= pos < e]
        return min(inside, key=lambda m: m[2] - m[1]) if inside else None

    found: list[tuple[int, Registration]] = []
    for ident, start, end in mods:
        enclosing = [i for i, s, e in mods if s < start < e]
        if enclosing:
            # A module declared inside another is its submodule.
            name = prefix_of(start - 1) + ident
            found.append((start, Registration(name, ident, "submodule", file, 0)))
        body = text[start:end]
        for use in _EXPORT_USE_RE.finditer(body):
            pos = start + use.start()
            if innermost(pos) != (ident, start, end):
                continue
            for item, alias in _use_names(use.group(1)):
                if item in module_idents:
                    kind, name = "submodule", alias
                elif item in fns and fns[item].is_pyfunction:
                    kind, name = "function", fns[item].python_name if alias == item else alias
                elif item in classes:
                    kind, name = "class", classes[item] if alias == item else alias
                else:
                    kind, name = "attribute", alias
                found.append((pos, Registration(prefix_of(pos) + name, item, kind, file, 0)))
        for const in _EXPORT_CONST_RE.finditer(body):
            pos = start + const.start()
            if innermost(pos) == (ident, start, end):
                name = prefix_of(pos) + const.group(1)
                found.append((pos, Registration(name, const.group(1), "attribute", file, 0)))
        for decl in _DECL_FN_RE.finditer(body):
            pos = start + decl.start()
            fn = fns.get(decl.group(1))
            if innermost(pos) == (ident, start, end) and fn is not None:
                name = prefix_of(pos) + fn.python_name
                found.append((pos, Registration(name, fn.ident, "function", file, 0)))
        for decl in _PYCLASS_RE.finditer(body):
            pos = start + decl.start()
            if innermost(pos) == (ident, start, end):
                name = prefix_of(pos) + classes.get(decl.group(2), decl.group(2))
                found.append((pos, Registration(name, decl.group(2), "class", file, 0)))
    return found


def find_rust_core_dir(start: Iterable[Path], name: str = "rust_core") -> Path | None:
    """The first crate folder ``name`` (default ``rust_core``) beside or above the paths."""
    candidates = [Path(p).resolve() for p in start]
    for base in candidates:
        for folder in (base, *base.parents):
            crate = folder / name
            if (crate / "Cargo.toml").is_file() and (crate / "src").is_dir():
                return crate
    return None


def _source_files(rust_dir: Path) -> dict[str, str]:
    src = rust_dir / "src" if (rust_dir / "src").is_dir() else rust_dir
    files = {}
    for path in sorted(src.rglob("*.rs")):
        if "target" in path.relative_to(src).parts:
            continue
        files[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return files


def load_built_exports(
    module_name: str = "rust_core",
) -> tuple[str | None, frozenset[str] | None, dict[str, RustSignature]]:
    """Names and signatures from the built extension; ``(None, None, {})`` if not importable."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # any failure to import means "no built module to compare with"
        return None, None, {}
    names: set[str] = set()
    signatures: dict[str, RustSignature] = {}

    def walk(obj: object, prefix: str, depth: int) -> None:
        for attr in dir(obj):
            if attr.startswith("__") and attr != "__version__":
                continue
            value = getattr(obj, attr, None)
            qualified = prefix + attr
            names.add(qualified)
            if inspect.ismodule(value) and depth < 2 and attr != module_name:
                walk(value, qualified + ".", depth + 1)
            elif callable(value) and not inspect.isclass(value):
                try:
                    sig = inspect.signature(value)
                except (TypeError, ValueError):
                    continue
                signatures[qualified] = _from_inspect(sig)

    walk(module, "", 0)
    return getattr(module, "__file__", module_name), frozenset(names), signatures


def _from_inspect(sig: inspect.Signature) -> RustSignature:
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: "positional_only",
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
        inspect.Parameter.KEYWORD_ONLY: "keyword_only",
        inspect.Parameter.VAR_POSITIONAL: "var_positional",
        inspect.Parameter.VAR_KEYWORD: "var_keyword",
    }
    return RustSignature(
        tuple(
            Param(p.name, kinds[p.kind], p.default is not inspect.Parameter.empty)
            for p in sig.parameters.values()
        )
    )


def merge_exports(
    source_dir: str | None,
    registrations: list[Registration] | None,
    source_signatures: dict[str, RustSignature],
    built: tuple[str | None, frozenset[str] | None, dict[str, RustSignature]],
) -> RustExports:
    """One :class:`RustExports` from both sources; source signatures win over built ones."""
    built_file, built_names, built_signatures = built
    signatures = dict(built_signatures)
    signatures.update(source_signatures)
    return RustExports(
        source_dir=source_dir,
        source_names=None if registrations is None else frozenset(r.name for r in registrations),
        built_file=built_file,
        built_names=built_names,
        signatures=signatures,
        registrations=tuple(registrations or ()),
    )


def read_rust_exports(
    rust_dir: Path | None, *, use_built: bool = True, module_name: str = "rust_core"
) -> RustExports:
    """Exports from the crate at ``rust_dir`` (if any) and the built ``module_name``."""
    registrations: list[Registration] | None = None
    signatures: dict[str, RustSignature] = {}
    if rust_dir is not None:
        registrations, signatures = parse_rust_source(_source_files(Path(rust_dir)))
    built = load_built_exports(module_name) if use_built else (None, None, {})
    return merge_exports(
        str(rust_dir) if rust_dir is not None else None, registrations, signatures, built
    )
