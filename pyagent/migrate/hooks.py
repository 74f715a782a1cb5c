"""The canonical ``rust_core`` hook: the one shape ``migrate insert`` writes.

Module level, after the docstring, ``__future__`` imports and other imports::

    try:
        import rust_core as rc
    except ImportError:
        rc = None  # type: ignore[assignment, unused-ignore]

and first in each hooked function body, after its docstring::

    if rc is not None and hasattr(rc, "generate_hash"):
        return rc.generate_hash(data, algorithm)

The Rust error is allowed to propagate: each Rust function raises the same exceptions as its
Python reference (parity tests prove it), so a try/except here could only hide bugs. The
``hasattr`` guard lets a hook land before its Rust function does. Arguments are forwarded as
the signature declares them so the two paths can never see different arguments.

In a module that already imports ``rust_core`` another way, the dispatch reuses that binding
(``rust_core is not None`` for a bare-name sentinel, the flag for a flag-only import) instead
of adding a second import.

The extension's name is ``rust_core`` unless the command is given another
(``--extension NAME``, e.g. an agent's own ``myagent._native``): the import then reads
``import myagent._native as rc`` and everything else is the same.
"""

from __future__ import annotations

import keyword

import libcst as cst

__all__ = [
    "BINDING_CANDIDATES",
    "IMPORT_TEMPLATE",
    "PASS_SELF_SUFFIX",
    "DISPATCH_TEMPLATE",
    "CONSTRUCTOR_TEMPLATE",
    "DEFAULT_EXTENSION",
    "constructor_statement",
    "dispatch_source",
    "dispatch_statement",
    "forwarded_arguments",
    "import_statement",
    "is_method",
    "valid_extension",
]

#: The extension module the hooks import unless told otherwise (``--extension NAME``).
DEFAULT_EXTENSION = "rust_core"

# The ignore keeps mypy quiet when a built wheel (with its typed stub) is installed, and
# ``unused-ignore`` keeps it quiet when none is.
#: The module-level import with its ``None`` sentinel.
IMPORT_TEMPLATE = (
    "try:\n    import rust_core as rc\nexcept ImportError:\n"
    "    rc = None  # type: ignore[assignment, unused-ignore]\n"
)

#: The dispatch at the top of a hooked function; ``{guard}`` is
#: ``{binding} is not None`` for a sentinel or the module's flag for a flag-only import.
#: ``{head}`` is the first component of a dotted Rust name (``binary_transport`` for
#: ``binary_transport.encode_frame``): the submodule's presence is what the guard checks.
DISPATCH_TEMPLATE = (
    'if {guard} and hasattr({binding}, "{head}"):\n    return {binding}.{rust}({args})\n'
)

#: The constructor that hooks a class: ``__new__`` returns the Rust object when the extension
#: has it, so the pick happens at each construction (like a function's dispatch) and a
#: forced-Python run still gets the Python class. ``__init__`` is not called on the Rust
#: object because it is not an instance of the Python class.
CONSTRUCTOR_TEMPLATE = (
    "def __new__({params}){returns}:\n"
    '    """The {extension} implementation when the extension has it, else this class."""\n'
    "    {dispatch}"
    "    return super().__new__(cls)\n"
)


#: Names ``insert`` binds the module to, in order of preference: the first one that no
#: statement of the module uses is taken, so a module's own ``rc`` (a global, a parameter, a
#: local like ``colorsys.rgb_to_hsv``'s) is never shadowed or overwritten.
BINDING_CANDIDATES = ("rc", "_rc", "_rust_core", "_rust_core_ext", "rust_core_ext")

#: A hook target whose Rust name ends with this forwards the method's ``self``/``cls`` too
#: (``--hook mod:Class.ratio=ratio(self)``): the Rust function then gets the object.
PASS_SELF_SUFFIX = "(self)"


def valid_extension(name: str) -> bool:
    """True for an importable module name: dotted identifiers, none a keyword."""
    return bool(name) and all(
        part.isidentifier() and not keyword.iskeyword(part) for part in name.split(".")
    )


def import_statement(binding: str = "rc", extension: str = DEFAULT_EXTENSION) -> cst.Try:
    """The canonical import block as a node, importing ``extension`` as ``binding``."""
    source = IMPORT_TEMPLATE.replace("import rust_core as", f"import {extension} as")
    if binding != "rc":
        source = source.replace("as rc\n", f"as {binding}\n").replace(
            "    rc = None", f"    {binding} = None"
        )
    statement = cst.parse_statement(source)
    assert isinstance(statement, cst.Try)
    return statement


def _is_decorated(func: cst.FunctionDef, name: str) -> bool:
    for decorator in func.decorators:
        target = decorator.decorator
        if isinstance(target, cst.Call):
            target = target.func
        if isinstance(target, cst.Name) and target.value == name:
            return True
        if isinstance(target, cst.Attribute) and target.attr.value == name:
            return True
    return False


def is_method(func: cst.FunctionDef, in_class: bool) -> bool:
    """True when the first parameter is ``self``/``cls`` and must not be forwarded."""
    return in_class and not _is_decorated(func, "staticmethod")


def forwarded_arguments(params: cst.Parameters, drop_first: bool) -> str:
    """The argument list that forwards ``params`` unchanged, as source text.

    Positional parameters go positionally, ``*args`` as ``*args``, keyword-only ones as
    ``kw=kw`` and ``**kwargs`` as ``**kwargs``; ``self``/``cls`` is dropped for methods.
    """
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    if drop_first and positional:
        positional = positional[1:]
    parts = list(positional)
    if isinstance(params.star_arg, cst.Param):
        parts.append("*" + params.star_arg.name.value)
    parts.extend(f"{p.name.value}={p.name.value}" for p in params.kwonly_params)
    if params.star_kwarg is not None:
        parts.append("**" + params.star_kwarg.name.value)
    return ", ".join(parts)


def dispatch_source(
    func: cst.FunctionDef,
    rust_name: str,
    *,
    in_class: bool,
    binding: str = "rc",
    flag: str | None = None,
    pass_self: bool = False,
) -> str:
    """The dispatch statement for ``func`` calling ``rust_core.<rust_name>``, as source.

    ``pass_self`` forwards a method's ``self``/``cls`` as the first argument.
    """
    guard = flag if flag is not None else f"{binding} is not None"
    args = forwarded_arguments(func.params, is_method(func, in_class) and not pass_self)
    head = rust_name.split(".", 1)[0]
    return DISPATCH_TEMPLATE.format(
        guard=guard, binding=binding, head=head, rust=rust_name, args=args
    )


def dispatch_statement(
    func: cst.FunctionDef,
    rust_name: str,
    *,
    in_class: bool,
    binding: str = "rc",
    flag: str | None = None,
    pass_self: bool = False,
) -> cst.If:
    """The dispatch statement as a node, ready to put first in ``func``'s body."""
    statement = cst.parse_statement(
        dispatch_source(
            func, rust_name, in_class=in_class, binding=binding, flag=flag, pass_self=pass_self
        )
    )
    assert isinstance(statement, cst.If)
    return statement


def _init_parameters(cls: cst.ClassDef) -> cst.Parameters:
    """``__init__``'s parameters with ``cls`` in place of ``self`` (empty when none)."""
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == "__init__":
            params = statement.params
            positional = list(params.params)
            if positional:
                positional[0] = positional[0].with_changes(name=cst.Name("cls"))
                return params.with_changes(params=positional)
            posonly = list(params.posonly_params)
            if posonly:
                posonly[0] = posonly[0].with_changes(name=cst.Name("cls"))
                return params.with_changes(posonly_params=posonly)
    return cst.Parameters(params=[cst.Param(cst.Name("cls"))])


def constructor_statement(
    cls: cst.ClassDef,
    rust_name: str,
    *,
    binding: str = "rc",
    flag: str | None = None,
    future_annotations: bool = True,
    module: cst.Module | None = None,
    extension: str = DEFAULT_EXTENSION,
) -> cst.FunctionDef:
    """A ``__new__`` for ``cls`` that returns ``rust_core.<rust_name>(...)`` when present.

    It takes ``__init__``'s parameters (annotations and defaults included) and forwards them
    as the function dispatch does; the return annotation is the class itself, quoted unless
    the module has ``from __future__ import annotations``.
    """
    module = module or cst.Module(body=[])
    params = _init_parameters(cls)
    name = cls.name.value
    annotated = any(p.annotation is not None for p in params.params[1:])
    returns = ""
    if annotated:
        returns = f" -> {name}" if future_annotations else f' -> "{name}"'
    header = cst.parse_statement(f"def __new__{module.code_for_node(params).join('()')}: pass")
    assert isinstance(header, cst.FunctionDef)
    dispatch = dispatch_source(header, rust_name, in_class=True, binding=binding, flag=flag)
    source = CONSTRUCTOR_TEMPLATE.format(
        params=module.code_for_node(params),
        returns=returns,
        extension=extension,
        dispatch=dispatch.replace("\n    ", "\n        "),
    )
    statement = cst.parse_statement(source)
    assert isinstance(statement, cst.FunctionDef)
    return statement
