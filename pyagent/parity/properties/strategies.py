"""Input strategies shared by the properties: valid values mixed with ones to reject."""

from __future__ import annotations

import array

from hypothesis import strategies as st

#: Text including lone surrogates, which cannot be UTF-8 encoded.
surrogate_text = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
any_text = st.text() | st.builds(lambda a, b: a + b, st.text(), surrogate_text)

#: Every bytes-like shape a caller may pass, including a non-contiguous view (BufferError).
bytes_like = st.one_of(
    st.binary(),
    st.binary().map(bytearray),
    st.binary().map(memoryview),
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=8).map(lambda v: array.array("i", v)),
    st.binary(min_size=2).map(lambda b: memoryview(b)[::2]),
)

#: Things that are neither str nor bytes-like.
not_data = st.one_of(
    st.none(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3), st.booleans()
)
