"""TemplateCore: prompt templates with ``{{ name }}`` and ``[name]`` placeholders.

Hot path ``apply_template`` (seed: Common/Template), with a batch form. The grammar, the same
on both backends:

* ``{{ name }}``: two braces, optional ASCII whitespace (space, tab, CR, LF, FF, VT), a name,
  optional ASCII whitespace, two braces. ``[name]``: a bracket, a name, a bracket, nothing in
  between.
* A name is an ASCII identifier: a letter or ``_``, then letters, digits or ``_``.
* Placeholders are found left to right, the leftmost match first, and never overlap
  (``{{{a}}}`` is ``{`` + the placeholder ``{{a}}`` + ``}``): exactly what ``re.sub`` does
  with :data:`PLACEHOLDER`.

Substitution is one pass: each placeholder whose name is in ``variables`` becomes
``str(value)``, and the inserted text is never scanned again, so a value containing
``{{ x }}`` stays literal. A placeholder whose name is absent is left exactly as written, or
raises KeyError (with the name) when ``strict=True``. A name is "in" the variables as the
``in`` operator says, so a ``defaultdict`` does not invent values.

The Python reference finds placeholders with ``re`` (one pattern, compiled once per template
and cached); the native path scans with a small hand-written matcher for the same grammar
(no regex engine needed for two fixed delimiters). It looks values up and ``str()``s them
with the GIL held, in the same order as here (every value is a Python object), then writes
each result straight into a new str of the right length and width, copying literals and
values in place (exact str values are not copied twice, exact ints are formatted without a
call). At the benchmark's size most of what remains is allocating the 100,000 result
strings, which every implementation pays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from pyagent._builtin import stored

try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]

__all__ = ["PLACEHOLDER", "TemplateCore", "apply_template", "apply_template_batch"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SPACE = r"[ \t\n\r\f\v]*"
#: The placeholder grammar: group 1 is a ``{{ name }}`` name, group 2 a ``[name]`` name.
PLACEHOLDER = re.compile(rf"\{{\{{{_SPACE}({_NAME}){_SPACE}\}}\}}|\[({_NAME})\]")


@dataclass(frozen=True)
class _Compiled:
    """A template split once: ``literals[i]``, then placeholder ``i``, ..., ``literals[-1]``."""

    literals: tuple[str, ...]
    names: tuple[str, ...]
    raws: tuple[str, ...]  # each placeholder as written, kept when its name is missing


def _check_template(template: object) -> str:
    if not isinstance(template, str):
        raise TypeError(f"template must be str, not {type(template).__name__}")
    # The stored text of a str subclass: its __hash__/__eq__ must not pick another
    # template's cached compilation, and rust_core reads the characters anyway.
    return stored(template)


@lru_cache(maxsize=256)
def _compile(template: str) -> _Compiled:
    literals, names, raws = [], [], []
    end = 0
    for match in PLACEHOLDER.finditer(template):
        literals.append(template[end : match.start()])
        names.append(match.group(1) or match.group(2))
        raws.append(match.group(0))
        end = match.end()
    literals.append(template[end:])
    return _Compiled(tuple(literals), tuple(names), tuple(raws))


_MISSING = object()


def _render(compiled: _Compiled, variables: object, strict: bool) -> str:
    if not isinstance(variables, Mapping):
        raise TypeError(f"variables must be a mapping, not {type(variables).__name__}")
    exact_dict = type(variables) is dict
    pieces = [compiled.literals[0]]
    for name, raw, literal in zip(
        compiled.names, compiled.raws, compiled.literals[1:], strict=True
    ):
        if exact_dict:
            value = variables.get(name, _MISSING)
        else:
            # Not .get(): Mapping.get goes through __getitem__, so a defaultdict would invent
            # a value; presence is what the `in` operator says.
            value = variables[name] if name in variables else _MISSING  # noqa: SIM401
        if value is not _MISSING:
            pieces.append(str(value))
        elif strict:
            raise KeyError(name)
        else:
            pieces.append(raw)
        pieces.append(literal)
    return "".join(pieces)


def apply_template(template: str, variables: Mapping[str, object], strict: bool = False) -> str:
    """``template`` with placeholders named in ``variables`` replaced by ``str(value)``.

    One pass, values never re-scanned; see the module docs for the grammar. Missing names
    stay as written unless ``strict``, when the first one (left to right) is a KeyError.
    TypeError for a non-str template or non-mapping variables.
    """
    if rc is not None and hasattr(rc, "apply_template"):
        return rc.apply_template(template, variables, strict)
    return _render(_compile(_check_template(template)), variables, bool(strict))


def apply_template_batch(
    template: str, variables_list: Iterable[Mapping[str, object]], strict: bool = False
) -> list[str]:
    """``apply_template`` for each mapping of ``variables_list``, in order.

    The template is split into literals and placeholders once for the whole batch.
    """
    if rc is not None and hasattr(rc, "apply_template_batch"):
        return rc.apply_template_batch(template, variables_list, strict)
    compiled = _compile(_check_template(template))
    strict = bool(strict)
    return [_render(compiled, variables, strict) for variables in stored(variables_list)]


@dataclass
class TemplateCore:
    """Named prompt templates, rendered one at a time or over a batch of variable sets."""

    strict: bool = False
    _templates: dict[str, str] = field(default_factory=dict, repr=False)

    def register(self, name: str, template: str) -> None:
        """Stores ``template`` under ``name`` (replacing any earlier one)."""
        self._templates[name] = _check_template(template)

    def template(self, name: str) -> str:
        """The template registered as ``name``; KeyError if there is none."""
        return self._templates[name]

    def render(self, name: str, variables: Mapping[str, object]) -> str:
        """The named template applied to ``variables`` (strict as the core is configured)."""
        return apply_template(self._templates[name], variables, self.strict)

    def render_batch(self, name: str, variables_list: Iterable[Mapping[str, object]]) -> list[str]:
        """The named template applied to each mapping, compiled once for the batch."""
        return apply_template_batch(self._templates[name], variables_list, self.strict)

    @property
    def names(self) -> list[str]:
        """Registered template names, in registration order."""
        return list(self._templates)

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, name: object) -> bool:
        return name in self._templates
