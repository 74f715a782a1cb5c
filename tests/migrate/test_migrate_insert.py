"""CodemodTest before/after cases for ``migrate insert``, each re-run to prove idempotency."""

from __future__ import annotations

from collections.abc import Mapping

from libcst.codemod import CodemodTest

from pyagent.migrate.insert import InsertHooksCommand

IMPORT = """\
try:
    import rust_core as rc
except ImportError:
    rc = None  # type: ignore[assignment, unused-ignore]
"""


class InsertTest(CodemodTest):
    TRANSFORM = InsertHooksCommand

    def check(
        self,
        before: str,
        after: str,
        targets: Mapping[str, str],
        *,
        expected_skip: bool = False,
        expected_warnings: list[str] | None = None,
    ) -> None:
        """before -> after, then after -> after (a second run changes nothing)."""
        self.assertCodemod(
            before,
            after,
            targets=targets,
            expected_skip=expected_skip,
            expected_warnings=expected_warnings,
        )
        self.assertCodemod(after, after, targets=targets, expected_skip=expected_skip)


class TestFunctionKinds(InsertTest):
    def test_plain_function_after_docstring(self) -> None:
        before = '''
            """Module doc."""

            from __future__ import annotations

            import hashlib


            def generate_hash(data, algorithm="sha256"):
                """Doc."""
                return hashlib.new(algorithm, data).hexdigest()
        '''
        after = f'''
            """Module doc."""

            from __future__ import annotations

            import hashlib

            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}


            def generate_hash(data, algorithm="sha256"):
                """Doc."""
                if rc is not None and hasattr(rc, "generate_hash"):
                    return rc.generate_hash(data, algorithm)
                return hashlib.new(algorithm, data).hexdigest()
        '''
        self.check(before, after, {"generate_hash": "generate_hash"})

    def test_signature_is_mirrored(self) -> None:
        before = """
            def f(a, /, b, c=1, *args, k, m=2, **kwargs):
                return a
        """
        after = f"""
            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}

            def f(a, /, b, c=1, *args, k, m=2, **kwargs):
                if rc is not None and hasattr(rc, "f_rust"):
                    return rc.f_rust(a, b, c, *args, k=k, m=m, **kwargs)
                return a
        """
        self.check(before, after, {"f": "f_rust"})

    def test_bare_star_keyword_only(self) -> None:
        before = """
            import os

            def f(a, *, k):
                return a
        """
        after = """
            import os

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            def f(a, *, k):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(a, k=k)
                return a
        """
        self.check(before, after, {"f": "f"})

    def test_method_static_class_and_async(self) -> None:
        before = '''
            import os


            class Core:
                """A core."""

                def method(self, x):
                    return x

                @staticmethod
                def static(x, y):
                    return x + y

                @classmethod
                def klass(cls, x):
                    return x

                async def fetch(self, url, *, timeout=1.0):
                    """Fetches."""
                    return url
        '''
        after = '''
            import os

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]


            class Core:
                """A core."""

                def method(self, x):
                    if rc is not None and hasattr(rc, "method_rust"):
                        return rc.method_rust(x)
                    return x

                @staticmethod
                def static(x, y):
                    if rc is not None and hasattr(rc, "static_rust"):
                        return rc.static_rust(x, y)
                    return x + y

                @classmethod
                def klass(cls, x):
                    if rc is not None and hasattr(rc, "klass_rust"):
                        return rc.klass_rust(x)
                    return x

                async def fetch(self, url, *, timeout=1.0):
                    """Fetches."""
                    if rc is not None and hasattr(rc, "fetch_rust"):
                        return rc.fetch_rust(url, timeout=timeout)
                    return url
        '''
        self.check(
            before,
            after,
            {
                "Core.method": "method_rust",
                "Core.static": "static_rust",
                "Core.klass": "klass_rust",
                "Core.fetch": "fetch_rust",
            },
        )

    def test_only_named_functions_and_nested_scopes_by_qualname(self) -> None:
        before = """
            import os

            def f(x):
                def f(y):
                    return y
                return f(x)

            def g(x):
                return x

            class K:
                def f(self, x):
                    return x
        """
        after = """
            import os

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            def f(x):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                def f(y):
                    return y
                return f(x)

            def g(x):
                return x

            class K:
                def f(self, x):
                    return x
        """
        self.check(before, after, {"f": "f"})

    def test_missing_function_warns_and_changes_nothing(self) -> None:
        before = """
            def g(x):
                return x
        """
        self.check(
            before, before, {"f": "f"}, expected_warnings=["f: no such function in this module"]
        )

    def test_generator_is_not_hooked(self) -> None:
        before = """
            def gen(n):
                yield from range(n)
        """
        self.check(
            before,
            before,
            {"gen": "gen"},
            expected_warnings=["gen: generator; `return rc.f(...)` would not work, not hooked"],
        )


class TestClassesAndSubmodules(InsertTest):
    """Class hot paths get a ``__new__`` dispatch; dotted Rust names reach submodules."""

    def test_class_gets_a_constructor_mirroring_init(self) -> None:
        before = '''
            from __future__ import annotations


            class BlockManager:
                """Doc."""

                def __init__(self, num_blocks: int, block_size: int = 16) -> None:
                    self.free = list(range(num_blocks))
        '''
        after = f'''
            from __future__ import annotations

            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}


            class BlockManager:
                """Doc."""

                def __new__(cls, num_blocks: int, block_size: int = 16) -> BlockManager:
                    """The rust_core implementation when the extension has it, else this class."""
                    if rc is not None and hasattr(rc, "block_manager"):
                        return rc.block_manager(num_blocks, block_size)
                    return super().__new__(cls)

                def __init__(self, num_blocks: int, block_size: int = 16) -> None:
                    self.free = list(range(num_blocks))
        '''
        self.check(before, after, {"BlockManager": "block_manager"})

    def test_class_annotation_is_quoted_without_future_import(self) -> None:
        before = """
            class Decoder:
                def __init__(self, limit: int, *, strict: bool = True) -> None:
                    self.limit = limit
        """
        after = f'''
            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}

            class Decoder:
                def __new__(cls, limit: int, *, strict: bool = True) -> "Decoder":
                    """The rust_core implementation when the extension has it, else this class."""
                    if rc is not None and hasattr(rc, "transport"):
                        return rc.transport.Decoder(limit, strict=strict)
                    return super().__new__(cls)

                def __init__(self, limit: int, *, strict: bool = True) -> None:
                    self.limit = limit
        '''
        self.check(before, after, {"Decoder": "transport.Decoder"})

    def test_class_without_init_and_with_own_new(self) -> None:
        before = '''
            class Empty:
                """Doc."""


            class Own:
                def __new__(cls, size):
                    return super().__new__(cls)
        '''
        after = f'''
            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}

            class Empty:
                """Doc."""

                def __new__(cls):
                    """The rust_core implementation when the extension has it, else this class."""
                    if rc is not None and hasattr(rc, "empty"):
                        return rc.empty()
                    return super().__new__(cls)


            class Own:
                def __new__(cls, size):
                    if rc is not None and hasattr(rc, "own"):
                        return rc.own(size)
                    return super().__new__(cls)
        '''
        self.check(before, after, {"Empty": "empty", "Own": "own"})

    def test_dotted_rust_name_guards_the_submodule(self) -> None:
        before = """
            def encode_frame(obj, stream_id=0, *, level=3):
                return obj
        """
        after = f"""
            {IMPORT.replace(chr(10), chr(10) + " " * 12).rstrip()}

            def encode_frame(obj, stream_id=0, *, level=3):
                if rc is not None and hasattr(rc, "binary_transport"):
                    return rc.binary_transport.encode_frame(obj, stream_id, level=level)
                return obj
        """
        self.check(before, after, {"encode_frame": "binary_transport.encode_frame"})


class TestComments(InsertTest):
    def test_comments_above_inline_below_and_in_body_survive(self) -> None:
        before = '''
            """Doc."""
            import os  # operating system

            # Above the function.
            def f(x):  # inline on def
                """Doc."""
                # first body comment
                y = x + 1  # inline body
                return y
            # below the function

            X = f(1)  # module use
        '''
        after = '''
            """Doc."""
            import os  # operating system

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            # Above the function.
            def f(x):  # inline on def
                """Doc."""
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                # first body comment
                y = x + 1  # inline body
                return y
            # below the function

            X = f(1)  # module use
        '''
        self.check(before, after, {"f": "f"})

    def test_two_space_indentation_is_kept(self) -> None:
        before = """
            def f(x):
              return x
        """
        after = """
            try:
              import rust_core as rc
            except ImportError:
              rc = None  # type: ignore[assignment, unused-ignore]

            def f(x):
              if rc is not None and hasattr(rc, "f"):
                return rc.f(x)
              return x
        """
        self.check(before, after, {"f": "f"})


class TestImportPlacement(InsertTest):
    def test_after_docstring_future_imports_and_guarded_imports(self) -> None:
        before = '''
            """Doc."""
            from __future__ import annotations
            import os
            try:
                import ujson as json
            except ImportError:
                import json
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from collections.abc import Iterable
            # constants
            LIMIT = 3
            import sys


            def f(x):
                return x
        '''
        after = '''
            """Doc."""
            from __future__ import annotations
            import os
            try:
                import ujson as json
            except ImportError:
                import json
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from collections.abc import Iterable

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            # constants
            LIMIT = 3
            import sys


            def f(x):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                return x
        '''
        self.check(before, after, {"f": "f"})

    def test_before_first_module_level_use(self) -> None:
        before = """
            import os
            DEFAULT = os.sep


            def f(x):
                return x


            RESULT = f(DEFAULT)
        """
        after = """
            import os

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            DEFAULT = os.sep


            def f(x):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                return x


            RESULT = f(DEFAULT)
        """
        self.check(before, after, {"f": "f"})

    def test_only_a_docstring(self) -> None:
        before = '''
            """Doc."""


            def f(x):
                return x
        '''
        after = '''
            """Doc."""

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]


            def f(x):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                return x
        '''
        self.check(before, after, {"f": "f"})


class TestExistingVariants(InsertTest):
    """A module with any hook variant gets no second import; the binding is reused."""

    def test_variant_a_annotated_sentinel(self) -> None:
        before = """
            from typing import Any
            try:
                import rust_core as rc  # type: ignore[import-not-found]
            except ImportError:  # pragma: no cover
                rc: Any = None  # pylint: disable=invalid-name
            import os

            def g(x):
                return x
        """
        after = """
            from typing import Any
            try:
                import rust_core as rc  # type: ignore[import-not-found]
            except ImportError:  # pragma: no cover
                rc: Any = None  # pylint: disable=invalid-name
            import os

            def g(x):
                if rc is not None and hasattr(rc, "g"):
                    return rc.g(x)
                return x
        """
        self.check(before, after, {"g": "g"})

    def test_variant_b_sentinel_and_flag(self) -> None:
        before = """
            try:
                import rust_core as rc
                RUST_AVAILABLE = True
            except (ImportError, OSError):
                rc = None
                RUST_AVAILABLE = False

            def f(x):
                if RUST_AVAILABLE and hasattr(rc, "f"):
                    return rc.f(x)
                return x

            def g(x):
                return x
        """
        after = """
            try:
                import rust_core as rc
                RUST_AVAILABLE = True
            except (ImportError, OSError):
                rc = None
                RUST_AVAILABLE = False

            def f(x):
                if RUST_AVAILABLE and hasattr(rc, "f"):
                    return rc.f(x)
                return x

            def g(x):
                if rc is not None and hasattr(rc, "g"):
                    return rc.g(x)
                return x
        """
        self.check(before, after, {"f": "f", "g": "g"})

    def test_variant_c_flag_only_uses_the_flag(self) -> None:
        before = """
            try:
                import rust_core as rc
                HAS_RUST = True
            except ImportError:
                HAS_RUST = False

            def g(x):
                return x
        """
        after = """
            try:
                import rust_core as rc
                HAS_RUST = True
            except ImportError:
                HAS_RUST = False

            def g(x):
                if HAS_RUST and hasattr(rc, "g"):
                    return rc.g(x)
                return x
        """
        self.check(before, after, {"g": "g"})

    def test_variant_d_bare_module_name(self) -> None:
        before = """
            try:
                import rust_core
            except Exception:
                rust_core = None

            def g(x):
                return x
        """
        after = """
            try:
                import rust_core
            except Exception:
                rust_core = None

            def g(x):
                if rust_core is not None and hasattr(rust_core, "g"):
                    return rust_core.g(x)
                return x
        """
        self.check(before, after, {"g": "g"})

    def test_variant_f_submodule_alias(self) -> None:
        before = """
            try:
                from rust_core import rust_core as rc
            except:
                rc = None

            def g(x):
                return x
        """
        after = """
            try:
                from rust_core import rust_core as rc
            except:
                rc = None

            def g(x):
                if rc is not None and hasattr(rc, "g"):
                    return rc.g(x)
                return x
        """
        self.check(before, after, {"g": "g"})

    def test_variant_e_from_import_is_left_alone(self) -> None:
        before = """
            try:
                from rust_core import a_rust, b_rust
                HAS_A = True
            except ImportError:
                HAS_A = False

            def g(x):
                return x
        """
        self.check(before, before, {"g": "g"}, expected_skip=True)

    def test_variant_g_lazy_import_is_left_alone(self) -> None:
        before = """
            import contextlib

            def f(x):
                with contextlib.suppress(ImportError):
                    import rust_core as rc
                    return rc.f(x)
                return x

            def g(x):
                return x
        """
        self.check(before, before, {"f": "f", "g": "g"}, expected_skip=True)

    def test_variant_h_bridge_is_left_alone(self) -> None:
        before = """
            from agent.bridge import bridge

            def f(x):
                return bridge.try_call("f_rust", x, fallback=lambda: x * 2)

            def g(x):
                return x
        """
        self.check(before, before, {"f": "f_rust", "g": "g"}, expected_skip=True)

    def test_hooked_function_of_any_shape_is_not_hooked_again(self) -> None:
        before = """
            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            def f(x):
                if rc:
                    try:
                        return rc.f(x)
                    except (AttributeError, TypeError, OverflowError):
                        pass
                return x

            def h(x):
                result = rc.h(x) if rc else None
                if result:
                    return result
                return x
        """
        self.check(before, before, {"f": "f", "h": "h"})

    def test_package_init_fallback_import_is_not_a_hook(self) -> None:
        before = """
            try:
                from mypkg.core import thing
            except ImportError:
                from .core import thing

            def f(x):
                return x
        """
        after = """
            try:
                from mypkg.core import thing
            except ImportError:
                from .core import thing

            try:
                import rust_core as rc
            except ImportError:
                rc = None  # type: ignore[assignment, unused-ignore]

            def f(x):
                if rc is not None and hasattr(rc, "f"):
                    return rc.f(x)
                return x
        """
        self.check(before, after, {"f": "f"})
