//! KVCacheCore: paged KV-cache memory (Inference/KV), as plain Rust.
//!
//! * [`page_copy`]: copy whole blocks of a `[num_blocks, block_bytes]` byte buffer in place,
//!   with numpy's `cache[dst] = cache[src]` snapshot semantics (every copy reads the blocks as
//!   they were before the call).
//! * [`BlockManager`]: the paged-attention block allocator (vLLM style) with reference-counted
//!   forks and copy-on-write, block for block identical to `pyagent.kv_cache_core.BlockManager`.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

/// Copies at least this many bytes in total before the work is split over rayon's threads:
/// below it, thread wake-up costs more than one core's memcpy takes.
const PARALLEL_BYTES: usize = 1 << 20;

/// Why a `page_copy` mapping was refused (nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// A block id outside `[0, num_blocks)`: IndexError in Python.
    OutOfRange {
        src: i64,
        dst: i64,
        num_blocks: usize,
    },
    /// The same destination block twice: ValueError in Python.
    DuplicateDestination(usize),
    /// The buffer is not `num_blocks` equal blocks: ValueError in Python.
    BadBuffer(String),
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::OutOfRange {
                src,
                dst,
                num_blocks,
            } => write!(
                f,
                "block pair ({src}, {dst}) out of range for a cache of {num_blocks} blocks"
            ),
            MappingError::DuplicateDestination(dst) => {
                write!(f, "mapping has a duplicate destination block ({dst})")
            }
            MappingError::BadBuffer(text) => f.write_str(text),
        }
    }
}

/// Checks `pairs` against a cache of `num_blocks` blocks: every id in range (in order, so
/// the first bad pair is the one reported), then no destination twice.
pub fn validate_mapping(
    pairs: &[[i64; 2]],
    num_blocks: usize,
) -> Result<Vec<(usize, usize)>, MappingError> {
    let in_range = |id: i64| usize::try_from(id).ok().filter(|&i| i < num_blocks);
    let mut checked = Vec::with_capacity(pairs.len());
    for &[src, dst] in pairs {
        match (in_range(src), in_range(dst)) {
            (Some(s), Some(d)) => checked.push((s, d)),
            _ => {
                return Err(MappingError::OutOfRange {
                    src,
                    dst,
                    num_blocks,
                })
            }
        }
    }
    let mut dsts: Vec<usize> = checked.iter().map(|&(_, d)| d).collect();
    dsts.sort_unstable();
    if let Some(w) = dsts.windows(2).find(|w| w[0] == w[1]) {
        return Err(MappingError::DuplicateDestination(w[0]));
    }
    Ok(checked)
}

/// A validated `(src, dst)` block pair.
type Pair = (usize, usize);

/// A raw pointer that may cross to rayon's threads; see the SAFETY notes where it is used.
#[derive(Clone, Copy)]
struct SendPtr(*mut u8);
// SAFETY: only used by `copy_disjoint`, whose callers guarantee the disjointness of writes.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// Copies `(src, dst)` blocks where no `dst` repeats and no `dst` is any pair's `src`
/// (except a `src == dst` pair, skipped), so every write is to a block no one else touches.
fn copy_disjoint(data: &mut [u8], block: usize, pairs: &[(usize, usize)]) {
    let base = SendPtr(data.as_mut_ptr());
    let one = move |&(src, dst): &(usize, usize)| {
        if src != dst {
            let base = base;
            // SAFETY: validate_mapping put src and dst in [0, num_blocks) and the caller
            // checked data.len() == num_blocks * block, so both ranges lie inside `data`;
            // src != dst so they do not overlap; destinations are pairwise distinct and none
            // is read by another pair, so concurrent copies never write what another reads
            // or writes.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    base.0.add(src * block),
                    base.0.add(dst * block),
                    block,
                );
            }
        }
    };
    if pairs.len() > 1 && pairs.len().saturating_mul(block) >= PARALLEL_BYTES {
        let per_task = (PARALLEL_BYTES / 4 / block.max(1)).max(1);
        pairs
            .par_chunks(per_task)
            .for_each(|chunk| chunk.iter().for_each(one));
    } else {
        pairs.iter().for_each(one);
    }
}

/// `cache[dst] = cache[src]` for every pair, `cache` being `num_blocks` blocks of equal size
/// laid end to end in `data`. All ids are validated (and `data` checked) before any byte is
/// written. Sources that the mapping also overwrites are saved first, so every copy reads the
/// original contents, exactly like numpy's fancy-index assignment.
pub fn page_copy(
    data: &mut [u8],
    num_blocks: usize,
    pairs: &[[i64; 2]],
) -> Result<(), MappingError> {
    let checked = validate_mapping(pairs, num_blocks)?;
    if checked.is_empty() {
        return Ok(());
    }
    // num_blocks > 0 here: validate_mapping accepted at least one id below it.
    if !data.len().is_multiple_of(num_blocks) {
        return Err(MappingError::BadBuffer(format!(
            "a buffer of {} bytes is not {num_blocks} equal blocks",
            data.len()
        )));
    }
    let block = data.len() / num_blocks;
    if block == 0 {
        return Ok(());
    }
    let mut written = vec![false; 0];
    let mut overwritten_sources = false;
    if checked.len() > 1 {
        written = vec![false; num_blocks];
        for &(_, d) in &checked {
            written[d] = true;
        }
        overwritten_sources = checked.iter().any(|&(s, d)| s != d && written[s]);
    }
    if !overwritten_sources {
        copy_disjoint(data, block, &checked);
        return Ok(());
    }
    // Snapshot every source block that some pair overwrites, then write everything.
    let mut saved: HashMap<usize, usize> = HashMap::new();
    let mut scratch: Vec<u8> = Vec::new();
    for &(s, d) in &checked {
        if s != d && written[s] && !saved.contains_key(&s) {
            saved.insert(s, scratch.len());
            scratch.extend_from_slice(&data[s * block..(s + 1) * block]);
        }
    }
    let (direct, from_scratch): (Vec<Pair>, Vec<Pair>) = checked
        .into_iter()
        .filter(|&(s, d)| s != d)
        .partition(|&(s, _)| !saved.contains_key(&s));
    // Direct pairs read blocks nobody writes; all destinations are distinct.
    copy_disjoint(data, block, &direct);
    for (s, d) in from_scratch {
        if let Some(&offset) = saved.get(&s) {
            data[d * block..(d + 1) * block].copy_from_slice(&scratch[offset..offset + block]);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BlockManager

/// The largest `num_blocks` / `block_size`: block ids are int32 in attention block tables.
pub const MAX_BLOCKS: i64 = i32::MAX as i64;

/// Why a [`BlockManager`] call was refused; the manager is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// Too few free blocks: `NoFreeBlocksError` in Python.
    NoFreeBlocks { needed: u64, free: u64, total: u64 },
    /// Unknown sequence id: KeyError.
    UnknownSequence(u64),
    /// The sequence id is taken: ValueError.
    DuplicateSequence(u64),
    /// An out-of-range argument: ValueError.
    Invalid(String),
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::NoFreeBlocks {
                needed,
                free,
                total,
            } => write!(f, "need {needed} free block(s), {free} of {total} free"),
            BlockError::UnknownSequence(id) => write!(f, "{id}"),
            BlockError::DuplicateSequence(id) => write!(f, "sequence {id} is already allocated"),
            BlockError::Invalid(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Clone)]
struct Sequence {
    blocks: Vec<u32>,
    tokens: u64,
}

/// Multiplicative (Fibonacci) hashing for u64 sequence ids: one multiply instead of SipHash,
/// which dominated per-operation time. Sequence ids come from the caller's own scheduler,
/// not from an adversary, so HashDoS resistance buys nothing here.
#[derive(Default, Clone, Copy)]
struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, value: u64) {
        // The high bits of the product are the well-mixed ones; hashbrown uses the top 7 bits
        // as a tag and the low bits as the index, so fold them down.
        let product = (self.0 ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = product ^ (product >> 32);
    }
}

type SeqMap = HashMap<u64, Sequence, BuildHasherDefault<SeqHasher>>;

/// The blocks themselves: free stack, never-used watermark and reference counts.
#[derive(Debug, Clone)]
struct Pool {
    num_blocks: u32,
    next_unused: u32,
    free: Vec<u32>,
    refs: Vec<u32>,
}

impl Pool {
    fn num_free(&self) -> u64 {
        self.free.len() as u64 + u64::from(self.num_blocks - self.next_unused)
    }

    /// One free block with reference count 1; callers check `num_free` first.
    fn take(&mut self) -> u32 {
        let block = match self.free.pop() {
            Some(block) => block,
            None => {
                let block = self.next_unused;
                self.next_unused += 1;
                self.refs.push(0);
                block
            }
        };
        self.refs[block as usize] = 1;
        block
    }

    fn release(&mut self, block: u32) {
        let count = &mut self.refs[block as usize];
        *count -= 1;
        if *count == 0 {
            self.free.push(block);
        }
    }

    fn no_free(&self, needed: u64) -> BlockError {
        BlockError::NoFreeBlocks {
            needed,
            free: self.num_free(),
            total: u64::from(self.num_blocks),
        }
    }
}

/// Paged-attention block allocator; see `pyagent.kv_cache_core.BlockManager` for the contract.
///
/// Freed blocks go on a LIFO stack (a sequence's blocks pushed last block first); when it is
/// empty the lowest never-used id is handed out. Reference counts live in a dense `Vec`.
#[derive(Debug, Clone)]
pub struct BlockManager {
    block_size: u64,
    pool: Pool,
    seqs: SeqMap,
}

impl fmt::Debug for SeqHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeqHasher")
    }
}

/// Operation codes of [`BlockManager::replay`].
pub const OP_ALLOCATE: i64 = 0;
pub const OP_APPEND: i64 = 1;
pub const OP_FREE: i64 = 2;
pub const OP_FORK: i64 = 3;

impl BlockManager {
    /// `num_blocks` and `block_size` in `[1, 2**31 - 1]`, else `BlockError::Invalid`.
    pub fn new(num_blocks: i64, block_size: i64) -> Result<Self, BlockError> {
        if !(1..=MAX_BLOCKS).contains(&num_blocks) {
            return Err(BlockError::Invalid(format!(
                "num_blocks must be in [1, 2**31 - 1], got {num_blocks}"
            )));
        }
        if !(1..=MAX_BLOCKS).contains(&block_size) {
            return Err(BlockError::Invalid(format!(
                "block_size must be in [1, 2**31 - 1], got {block_size}"
            )));
        }
        // Fits: checked against i32::MAX just above.
        let num_blocks = u32::try_from(num_blocks).unwrap_or(0);
        Ok(BlockManager {
            block_size: block_size.unsigned_abs(),
            pool: Pool {
                num_blocks,
                next_unused: 0,
                free: Vec::new(),
                refs: Vec::new(),
            },
            seqs: SeqMap::default(),
        })
    }

    pub fn num_blocks(&self) -> u32 {
        self.pool.num_blocks
    }

    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    pub fn num_free_blocks(&self) -> u64 {
        self.pool.num_free()
    }

    pub fn num_sequences(&self) -> usize {
        self.seqs.len()
    }

    fn get(&self, seq_id: u64) -> Result<&Sequence, BlockError> {
        self.seqs
            .get(&seq_id)
            .ok_or(BlockError::UnknownSequence(seq_id))
    }

    /// Registers `seq_id` with `ceil(prompt_len / block_size)` fresh blocks.
    pub fn allocate(&mut self, seq_id: u64, prompt_len: u64) -> Result<(), BlockError> {
        if self.seqs.contains_key(&seq_id) {
            return Err(BlockError::DuplicateSequence(seq_id));
        }
        let needed = prompt_len.div_ceil(self.block_size);
        if needed > self.pool.num_free() {
            return Err(self.pool.no_free(needed));
        }
        // needed <= num_free <= u32::MAX, so the capacity fits.
        let mut blocks = Vec::with_capacity(usize::try_from(needed).unwrap_or(0));
        for _ in 0..needed {
            blocks.push(self.pool.take());
        }
        self.seqs.insert(
            seq_id,
            Sequence {
                blocks,
                tokens: prompt_len,
            },
        );
        Ok(())
    }

    /// Adds one token; `Some((src, dst))` when a shared last block was copied-on-write.
    pub fn append_token(&mut self, seq_id: u64) -> Result<Option<(u32, u32)>, BlockError> {
        let pool = &mut self.pool;
        let seq = self
            .seqs
            .get_mut(&seq_id)
            .ok_or(BlockError::UnknownSequence(seq_id))?;
        let last = match seq.blocks.last_mut() {
            Some(last) if seq.tokens % self.block_size != 0 => last,
            _ => {
                // The last block is full, or there is none: a new block.
                if pool.num_free() == 0 {
                    return Err(pool.no_free(1));
                }
                seq.blocks.push(pool.take());
                seq.tokens += 1;
                return Ok(None);
            }
        };
        let shared = *last;
        if pool.refs[shared as usize] == 1 {
            seq.tokens += 1;
            return Ok(None);
        }
        if pool.num_free() == 0 {
            return Err(pool.no_free(1));
        }
        let fresh = pool.take();
        pool.refs[shared as usize] -= 1;
        *last = fresh;
        seq.tokens += 1;
        Ok(Some((shared, fresh)))
    }

    /// `child_id` shares all of `parent_id`'s blocks (reference counted) and tokens.
    pub fn fork(&mut self, parent_id: u64, child_id: u64) -> Result<(), BlockError> {
        let parent = self.get(parent_id)?;
        if self.seqs.contains_key(&child_id) {
            return Err(BlockError::DuplicateSequence(child_id));
        }
        let child = parent.clone();
        for &block in &child.blocks {
            self.pool.refs[block as usize] += 1;
        }
        self.seqs.insert(child_id, child);
        Ok(())
    }

    /// Releases `seq_id`; unshared blocks are pushed on the free stack, last block first.
    pub fn free(&mut self, seq_id: u64) -> Result<(), BlockError> {
        let seq = self
            .seqs
            .remove(&seq_id)
            .ok_or(BlockError::UnknownSequence(seq_id))?;
        for &block in seq.blocks.iter().rev() {
            self.pool.release(block);
        }
        Ok(())
    }

    pub fn block_table(&self, seq_id: u64) -> Result<&[u32], BlockError> {
        Ok(&self.get(seq_id)?.blocks)
    }

    pub fn num_tokens(&self, seq_id: u64) -> Result<u64, BlockError> {
        Ok(self.get(seq_id)?.tokens)
    }

    /// Checks a batch of `(op, a, b)` rows before running any: every op code known.
    pub fn check_ops(ops: &[[i64; 3]]) -> Result<(), BlockError> {
        match ops
            .iter()
            .find(|row| !(OP_ALLOCATE..=OP_FORK).contains(&row[0]))
        {
            Some(row) => Err(BlockError::Invalid(format!("unknown op code {}", row[0]))),
            None => Ok(()),
        }
    }

    /// Runs `ops` in order (see [`BlockManager::check_ops`]), appending copy-on-write pairs
    /// to `copies`. The first failing op stops the batch with its error; earlier ops stay
    /// applied, as with the same sequence of single calls.
    pub fn replay(
        &mut self,
        ops: &[[i64; 3]],
        copies: &mut Vec<[i64; 2]>,
    ) -> Result<(), BlockError> {
        Self::check_ops(ops)?;
        for &[op, a, b] in ops {
            let seq = seq_id(a, "seq_id")?;
            match op {
                OP_ALLOCATE => {
                    if b < 0 {
                        return Err(BlockError::Invalid(format!(
                            "prompt_len must be >= 0, got {b}"
                        )));
                    }
                    self.allocate(seq, b.unsigned_abs())?;
                }
                OP_APPEND => {
                    if let Some((src, dst)) = self.append_token(seq)? {
                        copies.push([i64::from(src), i64::from(dst)]);
                    }
                }
                OP_FREE => self.free(seq)?,
                _ => {
                    let child = seq_id(b, "child_id")?;
                    self.fork(seq, child)?;
                }
            }
        }
        Ok(())
    }
}

/// One sequence of a [`BlockState`]: `(seq_id, block table, tokens)`.
pub type SequenceState = (u64, Vec<u32>, u64);

/// The whole state of a [`BlockManager`] besides its two sizes, in the canonical form both
/// backends pickle: the free stack bottom to top, sequences by id. Reference counts are not
/// part of it: they are the number of sequences holding each block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockState {
    pub next_unused: u32,
    pub free: Vec<u32>,
    pub sequences: Vec<SequenceState>,
}

fn invalid_state(reason: impl fmt::Display) -> BlockError {
    BlockError::Invalid(format!("invalid BlockManager state: {reason}"))
}

impl BlockManager {
    /// The canonical state (see [`BlockState`]).
    pub fn state(&self) -> BlockState {
        let mut sequences: Vec<SequenceState> = self
            .seqs
            .iter()
            .map(|(&id, seq)| (id, seq.blocks.clone(), seq.tokens))
            .collect();
        sequences.sort_unstable_by_key(|entry| entry.0);
        BlockState {
            next_unused: self.pool.next_unused,
            free: self.pool.free.clone(),
            sequences,
        }
    }

    /// Replaces the state with `state` after checking that [`BlockManager::state`] could have
    /// written it (the checks of `BlockManager.__setstate__` in pyagent.kv_cache_core);
    /// `BlockError::Invalid`, and the manager unchanged, otherwise.
    pub fn set_state(&mut self, state: BlockState) -> Result<(), BlockError> {
        let BlockState {
            next_unused,
            free,
            sequences,
        } = state;
        if next_unused > self.pool.num_blocks {
            return Err(invalid_state("next_unused exceeds num_blocks"));
        }
        let in_range = |block: u32| block < next_unused;
        if !free.iter().all(|&b| in_range(b)) {
            return Err(invalid_state("a free block is out of range"));
        }
        // Every handed-out block is free or in a table, so a consistent state lists at least
        // next_unused blocks: checked first, so the dense counts below stay in proportion to
        // the input (a forged next_unused of 2**31 - 1 must not cost 8 GiB).
        let listed = sequences
            .iter()
            .fold(free.len(), |sum, entry| sum.saturating_add(entry.1.len()));
        if listed < next_unused as usize {
            return Err(invalid_state("a handed-out block is neither free nor used"));
        }
        let mut refs = vec![0u32; next_unused as usize];
        let mut seqs = SeqMap::default();
        for (seq_id, blocks, tokens) in sequences {
            if seq_id > MAX_SEQ_ID {
                return Err(invalid_state("a sequence id is out of range"));
            }
            if !blocks.iter().all(|&b| in_range(b)) {
                return Err(invalid_state("a block of a sequence is out of range"));
            }
            if seqs.contains_key(&seq_id) {
                return Err(invalid_state(format_args!(
                    "sequence {seq_id} appears twice"
                )));
            }
            let mut seen = blocks.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != blocks.len() {
                return Err(invalid_state(format_args!(
                    "sequence {seq_id} repeats a block"
                )));
            }
            if blocks.len() as u64 != tokens.div_ceil(self.block_size) {
                return Err(invalid_state(format_args!(
                    "sequence {seq_id} has {} blocks for {tokens} tokens",
                    blocks.len()
                )));
            }
            for &block in &blocks {
                refs[block as usize] = refs[block as usize].saturating_add(1);
            }
            seqs.insert(seq_id, Sequence { blocks, tokens });
        }
        let mut free_sorted = free.clone();
        free_sorted.sort_unstable();
        free_sorted.dedup();
        if free_sorted.len() != free.len() || free.iter().any(|&b| refs[b as usize] != 0) {
            return Err(invalid_state("a free block is listed twice or in use"));
        }
        let used = refs.iter().filter(|&&count| count != 0).count();
        if free.len() + used != next_unused as usize {
            return Err(invalid_state("a handed-out block is neither free nor used"));
        }
        self.pool.next_unused = next_unused;
        self.pool.free = free;
        self.pool.refs = refs;
        self.seqs = seqs;
        Ok(())
    }
}

/// The largest sequence id, `2**63 - 1`.
pub const MAX_SEQ_ID: u64 = i64::MAX as u64;

/// A sequence id from an i64: `[0, 2**63)`, else `BlockError::Invalid`.
pub fn seq_id(value: i64, name: &str) -> Result<u64, BlockError> {
    u64::try_from(value)
        .map_err(|_| BlockError::Invalid(format!("{name} must be in [0, 2**63), got {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(num_blocks: usize, block: usize) -> Vec<u8> {
        (0..num_blocks * block).map(|i| (i / block) as u8).collect()
    }

    fn blocks(data: &[u8], block: usize) -> Vec<u8> {
        data.chunks(block).map(|c| c[0]).collect()
    }

    #[test]
    fn copies_blocks_and_reads_a_snapshot() {
        let mut data = cache(5, 3);
        page_copy(&mut data, 5, &[[0, 1], [1, 0], [2, 3], [3, 4]]).unwrap();
        // numpy: c[[1, 0, 3, 4]] = c[[0, 1, 2, 3]] -> [1, 0, 2, 2, 3]
        assert_eq!(blocks(&data, 3), vec![1, 0, 2, 2, 3]);
        assert!(data.chunks(3).all(|c| c.iter().all(|&b| b == c[0])));
    }

    #[test]
    fn copies_many_blocks_in_parallel() {
        let block = 4096;
        let n = 1000;
        let mut data = cache(n, block);
        let pairs: Vec<[i64; 2]> = (0..400).map(|i| [i, i + 500]).collect();
        page_copy(&mut data, n, &pairs).unwrap();
        let got = blocks(&data, block);
        for i in 0..400 {
            assert_eq!(got[i + 500], (i % 256) as u8);
        }
        assert_eq!(got[499], (499 % 256) as u8);
        assert_eq!(got[900], (900 % 256) as u8);
    }

    #[test]
    fn rejects_before_writing() {
        let mut data = cache(4, 2);
        let before = data.clone();
        assert!(matches!(
            page_copy(&mut data, 4, &[[0, 1], [4, 2]]),
            Err(MappingError::OutOfRange { .. })
        ));
        assert!(matches!(
            page_copy(&mut data, 4, &[[0, 1], [-1, 2]]),
            Err(MappingError::OutOfRange { .. })
        ));
        assert_eq!(
            page_copy(&mut data, 4, &[[0, 1], [2, 1]]),
            Err(MappingError::DuplicateDestination(1))
        );
        assert_eq!(data, before);
        page_copy(&mut data, 4, &[]).unwrap();
        page_copy(&mut data, 4, &[[2, 2]]).unwrap();
        assert_eq!(data, before);
    }

    #[test]
    fn allocates_lowest_unused_then_lifo() {
        let mut m = BlockManager::new(8, 4).unwrap();
        m.allocate(1, 9).unwrap();
        assert_eq!(m.block_table(1).unwrap(), &[0, 1, 2]);
        m.allocate(2, 4).unwrap();
        assert_eq!(m.block_table(2).unwrap(), &[3]);
        m.free(1).unwrap();
        assert_eq!(m.num_free_blocks(), 7);
        m.allocate(3, 5).unwrap();
        assert_eq!(m.block_table(3).unwrap(), &[0, 1]);
        assert_eq!(m.append_token(2).unwrap(), None);
        assert_eq!(m.block_table(2).unwrap(), &[3, 2]);
    }

    #[test]
    fn fork_shares_and_copies_on_write() {
        let mut m = BlockManager::new(4, 2).unwrap();
        m.allocate(1, 3).unwrap();
        m.fork(1, 2).unwrap();
        assert_eq!(m.num_free_blocks(), 2);
        assert_eq!(m.append_token(2).unwrap(), Some((1, 2)));
        assert_eq!(m.block_table(2).unwrap(), &[0, 2]);
        // the parent's last block is no longer shared: no copy
        assert_eq!(m.append_token(1).unwrap(), None);
        // both full now: new blocks, no copies
        assert_eq!(m.append_token(1).unwrap(), None);
        assert_eq!(m.block_table(1).unwrap(), &[0, 1, 3]);
        let err = m.append_token(2).unwrap_err();
        assert!(matches!(err, BlockError::NoFreeBlocks { needed: 1, .. }));
        assert_eq!(m.num_tokens(2).unwrap(), 4);
        m.free(1).unwrap();
        m.free(2).unwrap();
        assert_eq!(m.num_free_blocks(), 4);
    }

    #[test]
    fn errors_leave_state_unchanged() {
        let mut m = BlockManager::new(2, 2).unwrap();
        assert!(matches!(
            m.allocate(1, 5),
            Err(BlockError::NoFreeBlocks { .. })
        ));
        assert_eq!(m.num_free_blocks(), 2);
        assert_eq!(m.num_sequences(), 0);
        m.allocate(1, 1).unwrap();
        assert_eq!(m.allocate(1, 1), Err(BlockError::DuplicateSequence(1)));
        assert_eq!(m.free(7), Err(BlockError::UnknownSequence(7)));
        assert_eq!(m.fork(7, 8), Err(BlockError::UnknownSequence(7)));
        assert_eq!(m.fork(1, 1), Err(BlockError::DuplicateSequence(1)));
        assert!(BlockManager::new(0, 1).is_err());
        assert!(BlockManager::new(1, MAX_BLOCKS + 1).is_err());
    }

    #[test]
    fn replay_matches_single_calls() {
        let mut m = BlockManager::new(4, 2).unwrap();
        let mut copies = Vec::new();
        let ops = [
            [OP_ALLOCATE, 1, 3],
            [OP_FORK, 1, 2],
            [OP_APPEND, 2, 0],
            [OP_FREE, 1, 0],
        ];
        m.replay(&ops, &mut copies).unwrap();
        assert_eq!(copies, vec![[1, 2]]);
        assert_eq!(m.block_table(2).unwrap(), &[0, 2]);
        assert_eq!(m.num_free_blocks(), 2);
        assert!(m.replay(&[[9, 0, 0]], &mut copies).is_err());
    }
}
