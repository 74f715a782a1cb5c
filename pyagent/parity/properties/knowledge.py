"""KnowledgeCore parity: sharding_index, single and batch, against zlib.adler32."""

from __future__ import annotations

import operator
import zlib

from hypothesis import given
from hypothesis import strategies as st

from pyagent import knowledge_core
from pyagent._builtin import stored
from pyagent.parity import hostile
from pyagent.parity.compare import same
from pyagent.parity.properties.strategies import any_text
from pyagent.parity.registry import parity_property

shard_counts = st.one_of(
    st.integers(min_value=1, max_value=2**40),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=2**63 - 2, max_value=2**130),
    st.booleans(),
    st.floats(),
    st.none(),
    st.text(max_size=3),
)
keys = st.one_of(any_text, st.binary(max_size=5), st.integers(), st.none())


@parity_property("sharding_index")
@given(key=hostile.mix(keys, "string"), shard_count=hostile.mix(shard_counts, "int"))
def sharding_index_agrees(key: object, shard_count: object) -> None:
    """Same shard (equal to zlib.adler32 % count) or the same error class."""
    outcome = same(knowledge_core.sharding_index, key, shard_count)
    if outcome.error is None:
        assert isinstance(key, str)
        count = operator.index(stored(shard_count))
        assert outcome.value == zlib.adler32(stored(key).encode()) % count


@parity_property("sharding_index")
@given(
    batch=hostile.mix(
        st.one_of(st.lists(st.text(), max_size=20), st.lists(keys, max_size=4), any_text),
        "sequence",
    ),
    shard_count=hostile.mix(shard_counts, "int"),
)
def sharding_index_batch_agrees(batch: object, shard_count: object) -> None:
    """Batch shards agree, with bad keys, bad counts and a bare str."""
    same(knowledge_core.sharding_index_batch, batch, shard_count)
