//! InferenceCore tokenizer: byte-level BPE over tiktoken-format ranks (count_tokens).
//!
//! The algorithm is tiktoken's (`CoreBPE`): text is cut at allowed special tokens, each
//! stretch split by the pattern ([`split`]: fast engines for the cl100k, o200k and Llama 3
//! patterns that cut exactly as fancy-regex does, fancy-regex itself for any other pattern),
//! and each piece either looked up whole or merged pairwise, lowest rank first (leftmost on
//! ties). Natural text repeats the same pieces over and over, so the ids of merged pieces
//! are kept in a bounded per-thread cache (a pure function of the piece for one tokenizer,
//! so the answer is the same by construction). Counting a batch runs on rayon without
//! building the token lists. Semantics are those of `pyagent/tokenizer_core.py`.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, MatchKind};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub mod split;

use split::Splitter;

pub type Rank = u32;

/// What can go wrong building or using a tokenizer (all ValueError in Python, but
/// `UnknownToken`, a KeyError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerError {
    EmptyToken,
    DuplicateId(Rank),
    MissingBytes(Vec<u8>),
    InvalidPattern(String),
    DisallowedSpecial(String),
    Regex(String),
    UnknownToken(Rank),
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerError::EmptyToken => write!(f, "tokens must not be empty"),
            TokenizerError::DuplicateId(id) => write!(f, "duplicate token id {id}"),
            TokenizerError::MissingBytes(bytes) => write!(
                f,
                "ranks must give every single byte a rank; missing {:?}",
                &bytes[..bytes.len().min(8)]
            ),
            TokenizerError::InvalidPattern(e) => write!(f, "invalid pattern: {e}"),
            TokenizerError::DisallowedSpecial(name) => write!(
                f,
                "text contains the disallowed special token {name:?}; pass allowed_special to \
                 encode it as a special token, or disallowed_special=() to encode it as text"
            ),
            TokenizerError::Regex(e) => write!(f, "pattern failed on the text: {e}"),
            TokenizerError::UnknownToken(id) => write!(f, "{id}"),
        }
    }
}

/// A byte-level BPE tokenizer.
#[derive(Debug)]
pub struct Bpe {
    encoder: FxHashMap<Vec<u8>, Rank>,
    decoder: FxHashMap<Rank, Vec<u8>>,
    specials: FxHashMap<String, Rank>,
    special_decoder: FxHashMap<Rank, Vec<u8>>,
    splitter: Splitter,
    /// Identifies this tokenizer to the per-thread piece caches.
    id: u64,
}

/// Pieces longer than this are not cached (they are rare, and bound the cache's memory).
const MAX_CACHED_PIECE: usize = 64;
/// Pieces longer than this merge with a heap ([`Bpe::merge_long`]) instead of rescanning.
const LONG_PIECE: usize = 128;
/// Entries a per-thread piece cache holds before it is emptied.
const CACHE_ENTRIES: usize = 1 << 15;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Per-thread working memory: the piece cache of one tokenizer and the merge buffers.
#[derive(Default)]
struct Scratch {
    owner: u64,
    cache: FxHashMap<Box<[u8]>, Box<[Rank]>>,
    parts: Vec<(usize, Rank)>,
    ids: Vec<Rank>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Which special tokens an encode call allows (encoded as ids) and disallows (errors).
#[derive(Debug, Clone, Default)]
pub struct SpecialRules {
    pub allowed: Vec<String>,
    pub disallowed: Vec<String>,
}

/// A compiled form of `SpecialRules` for one call (or one batch).
pub struct Prepared<'a> {
    disallowed: &'a [String],
    splitter: Option<(AhoCorasick, Vec<Rank>)>,
}

impl Bpe {
    /// Builds a tokenizer; `ranks` and `specials` in the caller's iteration order (which
    /// decides which duplicate is reported).
    pub fn new(
        ranks: Vec<(Vec<u8>, Rank)>,
        pattern: &str,
        specials: Vec<(String, Rank)>,
    ) -> Result<Bpe, TokenizerError> {
        let mut ids = rustc_hash::FxHashSet::default();
        let mut encoder = FxHashMap::default();
        encoder.reserve(ranks.len());
        for (token, rank) in ranks.iter().chain(
            specials
                .iter()
                .map(|(name, rank)| (name.as_bytes().to_vec(), *rank))
                .collect::<Vec<_>>()
                .iter(),
        ) {
            if token.is_empty() {
                return Err(TokenizerError::EmptyToken);
            }
            if !ids.insert(*rank) {
                return Err(TokenizerError::DuplicateId(*rank));
            }
        }
        for (token, rank) in ranks {
            encoder.insert(token, rank);
        }
        let missing: Vec<u8> = (0..=255u8)
            .filter(|b| !encoder.contains_key(&[*b][..]))
            .collect();
        if !missing.is_empty() {
            return Err(TokenizerError::MissingBytes(missing));
        }
        let splitter = Splitter::new(pattern).map_err(TokenizerError::InvalidPattern)?;
        let decoder = encoder.iter().map(|(k, v)| (*v, k.clone())).collect();
        let special_decoder = specials
            .iter()
            .map(|(k, v)| (*v, k.as_bytes().to_vec()))
            .collect();
        Ok(Bpe {
            encoder,
            decoder,
            specials: specials.into_iter().collect(),
            special_decoder,
            splitter,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Every ordinary token and its rank, by rank (what `Tokenizer.__reduce__` pickles).
    pub fn ranks(&self) -> Vec<(&[u8], Rank)> {
        let mut ranks: Vec<(&[u8], Rank)> = self
            .encoder
            .iter()
            .map(|(token, &rank)| (token.as_slice(), rank))
            .collect();
        ranks.sort_unstable_by_key(|&(_, rank)| rank);
        ranks
    }

    /// Every special token and its rank, by rank.
    pub fn special_ranks(&self) -> Vec<(&str, Rank)> {
        let mut specials: Vec<(&str, Rank)> = self
            .specials
            .iter()
            .map(|(name, &rank)| (name.as_str(), rank))
            .collect();
        specials.sort_unstable_by_key(|&(_, rank)| rank);
        specials
    }

    /// The special tokens' names.
    pub fn special_names(&self) -> Vec<String> {
        self.specials.keys().cloned().collect()
    }

    /// One more than the largest id.
    pub fn n_vocab(&self) -> u64 {
        let top = self
            .decoder
            .keys()
            .chain(self.special_decoder.keys())
            .max()
            .copied()
            .unwrap_or(0);
        u64::from(top) + 1
    }

    /// Compiles the special-token rules of a call.
    pub fn prepare<'a>(&self, rules: &'a SpecialRules) -> Prepared<'a> {
        let mut usable: Vec<&String> = rules
            .allowed
            .iter()
            .filter(|s| self.specials.contains_key(*s))
            .collect();
        usable.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        usable.dedup();
        let splitter = if usable.is_empty() {
            None
        } else {
            let ids = usable.iter().map(|s| self.specials[*s]).collect();
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&usable)
                .ok()
                .map(|ac| (ac, ids))
        };
        Prepared {
            disallowed: &rules.disallowed,
            splitter,
        }
    }

    /// Which engine splits text ("cl100k", "regex" or "fancy-regex").
    pub fn split_engine(&self) -> &'static str {
        self.splitter.engine()
    }

    /// The pieces the pattern cuts `text` into (empty matches dropped).
    pub fn pieces<'t>(&self, text: &'t str) -> Result<Vec<&'t str>, TokenizerError> {
        let mut out = Vec::new();
        self.splitter
            .split(text, |piece| out.push(piece))
            .map_err(|e| TokenizerError::Regex(e.0))?;
        Ok(out)
    }

    /// Appends to `out` the ids of a piece that is not a token: tiktoken's
    /// `_byte_pair_merge`, boundaries with the rank of the pair starting there, the
    /// lowest-ranked pair merged first (leftmost on ties).
    fn merge(&self, piece: &[u8], parts: &mut Vec<(usize, Rank)>, out: &mut Vec<Rank>) {
        if piece.len() > LONG_PIECE {
            self.merge_long(piece, parts, out);
        } else {
            self.merge_short(piece, parts, out);
        }
    }

    /// [`Bpe::merge`] as tiktoken does it: rescan the boundaries after every merge
    /// (quadratic, and the fastest for short pieces).
    fn merge_short(&self, piece: &[u8], parts: &mut Vec<(usize, Rank)>, out: &mut Vec<Rank>) {
        let rank_of = |start: usize, end: usize| -> Rank {
            self.encoder
                .get(&piece[start..end])
                .copied()
                .unwrap_or(Rank::MAX)
        };
        parts.clear();
        let mut min_rank: (Rank, usize) = (Rank::MAX, usize::MAX);
        for i in 0..piece.len().saturating_sub(1) {
            let rank = rank_of(i, i + 2);
            if rank < min_rank.0 {
                min_rank = (rank, i);
            }
            parts.push((i, rank));
        }
        parts.push((piece.len().saturating_sub(1), Rank::MAX));
        parts.push((piece.len(), Rank::MAX));
        let get_rank = |parts: &Vec<(usize, Rank)>, i: usize| -> Rank {
            if i + 3 < parts.len() {
                rank_of(parts[i].0, parts[i + 3].0)
            } else {
                Rank::MAX
            }
        };
        while min_rank.0 != Rank::MAX {
            let i = min_rank.1;
            if i > 0 {
                parts[i - 1].1 = get_rank(parts, i - 1);
            }
            parts[i].1 = get_rank(parts, i);
            parts.remove(i + 1);
            min_rank = (Rank::MAX, usize::MAX);
            for (j, &(_, rank)) in parts[..parts.len() - 1].iter().enumerate() {
                if rank < min_rank.0 {
                    min_rank = (rank, j);
                }
            }
        }
        for window in parts.windows(2) {
            // Every part is a token: single bytes always are, merges only make tokens.
            if let Some(&rank) = self.encoder.get(&piece[window[0].0..window[1].0]) {
                out.push(rank);
            }
        }
    }

    /// [`Bpe::merge`] for long pieces in O(n log n): the same merges in the same order
    /// (lowest rank first, leftmost on ties) as the rescanning merge. Parts are a linked list
    /// indexed by their start byte; a pair (start, end) is stale once the part at `start` is
    /// gone or no longer ends its pair at `end` (ends only grow, so a pair never comes back),
    /// and stale pairs are skipped.
    ///
    /// The pending pairs are kept in buckets, one per rank, with a min-heap of the ranks that
    /// have a bucket: a bucket is sorted by start when taken and swept in that order, so the
    /// sweep walks the lists forwards instead of jumping about as a heap of all pairs does
    /// (10 MB of spaces: 39 s with that heap, the time going to cache misses). All pairs of
    /// one rank are the same bytes, and a merge only makes longer pairs, so no pair of the
    /// rank being swept is added during its sweep; a vocabulary whose merges are not in rank
    /// order can add a lower rank, and the sweep then stops and puts the rest of its bucket
    /// back, so the order stays exactly (rank, start). Positions are u32; a piece of 4 GiB or
    /// more (which no Python str short of 4 GiB can hold) goes the short way.
    fn merge_long(&self, piece: &[u8], parts: &mut Vec<(usize, Rank)>, out: &mut Vec<Rank>) {
        const NONE: u32 = u32::MAX;
        const DEAD: u32 = NONE - 1;
        let Some(n) = u32::try_from(piece.len()).ok().filter(|&n| n < DEAD) else {
            return self.merge_short(piece, parts, out);
        };
        let rank_of = |start: u32, end: u32| -> Rank {
            self.encoder
                .get(&piece[start as usize..end as usize])
                .copied()
                .unwrap_or(Rank::MAX)
        };
        // next[i]: the start of the part after the one starting at i (n: the end); a part
        // merged into the one before it is marked dead by prev = NONE - 1 (never a start).
        let mut next: Vec<u32> = (1..=n).collect();
        let mut prev: Vec<u32> = (0..n).map(|i| i.checked_sub(1).unwrap_or(NONE)).collect();
        let mut pending = PairBuckets::default();
        for i in 0..n.saturating_sub(1) {
            pending.push(rank_of(i, i + 2), i, i + 2);
        }
        let mut sweep: Vec<(u32, u32)> = Vec::new();
        while let Some(rank) = pending.take_lowest(&mut sweep) {
            let mut at = 0;
            while at < sweep.len() {
                let (i, end) = sweep[at];
                at += 1;
                if prev[i as usize] == DEAD {
                    continue;
                }
                let j = next[i as usize];
                if j >= n || next[j as usize] != end {
                    continue;
                }
                // Merge the part at j into the part at i.
                prev[j as usize] = DEAD;
                next[i as usize] = end;
                if end < n {
                    prev[end as usize] = i;
                    let after = next[end as usize];
                    pending.push(rank_of(i, after), i, after);
                }
                let before = prev[i as usize];
                if before != NONE {
                    pending.push(rank_of(before, end), before, end);
                }
                if pending.lowest().is_some_and(|lowest| lowest <= rank) {
                    pending.put_back(rank, &sweep[at..]);
                    break;
                }
            }
        }
        let mut start = 0;
        while start < n {
            let end = next[start as usize];
            if let Some(&rank) = self.encoder.get(&piece[start as usize..end as usize]) {
                out.push(rank);
            }
            start = end;
        }
    }

    /// Calls `emit` with the ids of one piece, through the thread's piece cache.
    fn piece(&self, piece: &[u8], scratch: &mut Scratch, emit: &mut impl FnMut(Rank)) {
        if let Some(&rank) = self.encoder.get(piece) {
            emit(rank);
            return;
        }
        if let Some(ids) = scratch.cache.get(piece) {
            ids.iter().for_each(|&id| emit(id));
            return;
        }
        let Scratch {
            cache, parts, ids, ..
        } = scratch;
        ids.clear();
        self.merge(piece, parts, ids);
        ids.iter().for_each(|&id| emit(id));
        if piece.len() <= MAX_CACHED_PIECE {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(piece.into(), ids.as_slice().into());
        }
    }

    /// Ids of `text` split by the pattern only (no special tokens).
    fn ordinary(&self, text: &str, emit: &mut impl FnMut(Rank)) -> Result<(), TokenizerError> {
        SCRATCH.with(|cell| {
            let mut guard;
            let mut fresh;
            let scratch: &mut Scratch = match cell.try_borrow_mut() {
                Ok(borrowed) => {
                    guard = borrowed;
                    &mut guard
                }
                // Not reentrant in practice; a fresh scratch keeps it correct regardless.
                Err(_) => {
                    fresh = Scratch::default();
                    &mut fresh
                }
            };
            if scratch.owner != self.id {
                scratch.cache.clear();
                scratch.owner = self.id;
            }
            self.splitter
                .split(text, |piece| self.piece(piece.as_bytes(), scratch, emit))
                .map_err(|e| TokenizerError::Regex(e.0))
        })
    }

    /// Calls `emit` with every id of `text` under the prepared special-token rules.
    pub fn encode_with(
        &self,
        text: &str,
        prepared: &Prepared<'_>,
        emit: &mut impl FnMut(Rank),
    ) -> Result<(), TokenizerError> {
        let mut disallowed: Vec<&String> = prepared.disallowed.iter().collect();
        disallowed.sort();
        if let Some(name) = disallowed
            .into_iter()
            .find(|name| text.contains(name.as_str()))
        {
            return Err(TokenizerError::DisallowedSpecial(name.clone()));
        }
        let Some((splitter, ids)) = &prepared.splitter else {
            return self.ordinary(text, emit);
        };
        let mut start = 0;
        for found in splitter.find_iter(text) {
            self.ordinary(&text[start..found.start()], emit)?;
            emit(ids[found.pattern().as_usize()]);
            start = found.end();
        }
        self.ordinary(&text[start..], emit)
    }

    /// The ids of `text`.
    pub fn encode(&self, text: &str, rules: &SpecialRules) -> Result<Vec<Rank>, TokenizerError> {
        let prepared = self.prepare(rules);
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_with(text, &prepared, &mut |id| out.push(id))?;
        Ok(out)
    }

    /// The number of ids of `text`.
    pub fn count(&self, text: &str, prepared: &Prepared<'_>) -> Result<u64, TokenizerError> {
        let mut n = 0u64;
        self.encode_with(text, prepared, &mut |_| n += 1)?;
        Ok(n)
    }

    /// The counts of every text, in parallel; the first failing text's error (by index).
    pub fn count_batch(
        &self,
        texts: &[&str],
        rules: &SpecialRules,
    ) -> Result<Vec<u64>, TokenizerError> {
        let prepared = self.prepare(rules);
        let results: Vec<Result<u64, TokenizerError>> = texts
            .par_iter()
            .map(|text| self.count(text, &prepared))
            .collect();
        results.into_iter().collect()
    }

    /// The ids of every text, in parallel.
    pub fn encode_batch(
        &self,
        texts: &[&str],
        rules: &SpecialRules,
    ) -> Result<Vec<Vec<Rank>>, TokenizerError> {
        let prepared = self.prepare(rules);
        let results: Vec<Result<Vec<Rank>, TokenizerError>> = texts
            .par_iter()
            .map(|text| {
                let mut out = Vec::with_capacity(text.len() / 3);
                self.encode_with(text, &prepared, &mut |id| out.push(id))
                    .map(|()| out)
            })
            .collect();
        results.into_iter().collect()
    }

    /// The bytes of one id, if it is a token or a special token.
    pub fn token_bytes(&self, token: i64) -> Option<&[u8]> {
        let token = Rank::try_from(token).ok()?;
        self.decoder
            .get(&token)
            .or_else(|| self.special_decoder.get(&token))
            .map(Vec::as_slice)
    }

    /// The bytes the ids stand for.
    pub fn decode_bytes(&self, tokens: &[i64]) -> Result<Vec<u8>, i64> {
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &token in tokens {
            let part = Rank::try_from(token)
                .ok()
                .and_then(|t| {
                    self.decoder
                        .get(&t)
                        .or_else(|| self.special_decoder.get(&t))
                })
                .ok_or(token)?;
            out.extend_from_slice(part);
        }
        Ok(out)
    }
}

/// Pending pairs (start, end) of [`Bpe::merge_long`] by rank, with the ranks that have any
/// in a min-heap; a pair of no token (rank `Rank::MAX`) is never kept.
#[derive(Default)]
struct PairBuckets {
    buckets: FxHashMap<Rank, Vec<(u32, u32)>>,
    ranks: BinaryHeap<Reverse<Rank>>,
}

impl PairBuckets {
    fn push(&mut self, rank: Rank, start: u32, end: u32) {
        if rank == Rank::MAX {
            return;
        }
        let bucket = self.buckets.entry(rank).or_default();
        if bucket.is_empty() {
            self.ranks.push(Reverse(rank));
        }
        bucket.push((start, end));
    }

    fn lowest(&self) -> Option<Rank> {
        self.ranks.peek().map(|&Reverse(rank)| rank)
    }

    /// Moves the lowest rank's pairs into `sweep`, sorted by start; returns that rank.
    fn take_lowest(&mut self, sweep: &mut Vec<(u32, u32)>) -> Option<Rank> {
        let Reverse(rank) = self.ranks.pop()?;
        sweep.clear();
        if let Some(mut bucket) = self.buckets.remove(&rank) {
            // Mostly already in order (pushed by a forward sweep): pdqsort is linear then.
            bucket.sort_unstable();
            std::mem::swap(sweep, &mut bucket);
        }
        Some(rank)
    }

    /// Returns the unswept pairs of `rank` (a lower rank came up during its sweep).
    fn put_back(&mut self, rank: Rank, rest: &[(u32, u32)]) {
        for &(start, end) in rest {
            self.push(rank, start, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

    fn toy() -> Bpe {
        let mut ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        for (i, t) in ["ab", "bc", "abc", " a", "cd"].iter().enumerate() {
            ranks.push((t.as_bytes().to_vec(), 256 + i as Rank));
        }
        Bpe::new(ranks, CL100K, vec![("<|end|>".into(), 1000)]).expect("valid toy vocabulary")
    }

    #[test]
    fn merges_lowest_rank_first_and_round_trips() {
        let bpe = toy();
        let rules = SpecialRules::default();
        // "abcd": ab(256) beats bc(257) and cd(260); then abc(258) from ab+c; then d.
        assert_eq!(bpe.encode("abcd", &rules), Ok(vec![258, b'd' as Rank]));
        let text = "x abcd \u{e9}\u{1f389} <|end|>";
        let strict = SpecialRules {
            allowed: vec![],
            disallowed: vec!["<|end|>".into()],
        };
        assert!(matches!(
            bpe.encode(text, &strict),
            Err(TokenizerError::DisallowedSpecial(_))
        ));
        let rules = SpecialRules {
            allowed: vec!["<|end|>".into()],
            disallowed: vec![],
        };
        let ids = bpe.encode(text, &rules).expect("allowed");
        assert_eq!(ids.last(), Some(&1000));
        let widened: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        assert_eq!(bpe.decode_bytes(&widened), Ok(text.as_bytes().to_vec()));
        assert_eq!(bpe.decode_bytes(&[5000]), Err(5000));
        let prepared = bpe.prepare(&rules);
        assert_eq!(bpe.count(text, &prepared), Ok(ids.len() as u64));
    }

    #[test]
    fn long_pieces_merge_as_short_ones() {
        // A vocabulary over "abcde" grown like BPE training (random merges of tokens), and
        // random pieces both sides of LONG_PIECE: the heap merge and the rescanning merge
        // must give the same ids.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let mut seen: rustc_hash::FxHashSet<Vec<u8>> = tokens.iter().cloned().collect();
        let alphabet: Vec<usize> = b"abcde".iter().map(|&b| b as usize).collect();
        let mut grown: Vec<usize> = alphabet.clone();
        while tokens.len() < 700 {
            let a = grown[next() as usize % grown.len()];
            let b = grown[next() as usize % grown.len()];
            let token = [tokens[a].clone(), tokens[b].clone()].concat();
            if token.len() <= 12 && seen.insert(token.clone()) {
                grown.push(tokens.len());
                tokens.push(token);
            }
        }
        // As grown (each merge ranked after its parts), and with the merged tokens' ranks
        // shuffled: a merge can then make a pair of lower rank than the one being swept.
        let mut shuffled: Vec<Rank> = (256..tokens.len() as Rank).collect();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, next() as usize % (i + 1));
        }
        let in_order = tokens.iter().cloned().zip(0..).collect();
        let out_of_order = tokens.into_iter().zip((0..256).chain(shuffled)).collect();
        for ranks in [in_order, out_of_order] {
            check_long_pieces(
                Bpe::new(ranks, CL100K, vec![]).expect("valid vocabulary"),
                &mut next,
            );
        }
    }

    #[test]
    fn a_merge_making_a_lower_rank_interrupts_the_sweep() {
        // "aaa" ranks before "aa": after the first "aa" merge, "aaa" must be merged before
        // the next "aa" of the run, as the rescanning merge (and tiktoken) does.
        let mut ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        ranks.push((b"aaa".to_vec(), 300));
        ranks.push((b"aa".to_vec(), 500));
        let bpe = Bpe::new(ranks, CL100K, vec![]).expect("valid vocabulary");
        let piece = vec![b'a'; LONG_PIECE + 3];
        let (mut parts, mut short, mut long) = (Vec::new(), Vec::new(), Vec::new());
        bpe.merge_long(&piece, &mut parts, &mut long);
        bpe.merge_short(&piece, &mut parts, &mut short);
        assert_eq!(long, short);
        assert_eq!(long[0], 300);
    }

    fn check_long_pieces(bpe: Bpe, next: &mut impl FnMut() -> u64) {
        let (mut parts, mut short, mut long) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bytes, mut ids) = (0, 0);
        for round in 0..400 {
            let len = 1 + next() as usize % if round % 2 == 0 { 40 } else { 600 };
            let piece: Vec<u8> = (0..len).map(|_| b"abcde"[next() as usize % 5]).collect();
            short.clear();
            long.clear();
            bpe.merge_long(&piece, &mut parts, &mut long);
            bpe.merge_short(&piece, &mut parts, &mut short);
            assert_eq!(long, short, "piece {:?}", String::from_utf8_lossy(&piece));
            bytes += piece.len();
            ids += long.len();
        }
        assert!(
            ids * 4 < bytes * 3,
            "the vocabulary merges: {ids} ids for {bytes} bytes"
        );
    }

    #[test]
    fn rejects_bad_vocabularies() {
        let ranks: Vec<(Vec<u8>, Rank)> = (0..=254u8).map(|b| (vec![b], b as Rank)).collect();
        assert!(matches!(
            Bpe::new(ranks, CL100K, vec![]),
            Err(TokenizerError::MissingBytes(_))
        ));
        let mut ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        ranks.push((b"ab".to_vec(), 3));
        assert_eq!(
            Bpe::new(ranks, CL100K, vec![]).err(),
            Some(TokenizerError::DuplicateId(3))
        );
        let ranks: Vec<(Vec<u8>, Rank)> = (0..=255u8).map(|b| (vec![b], b as Rank)).collect();
        assert!(matches!(
            Bpe::new(ranks, "(", vec![]),
            Err(TokenizerError::InvalidPattern(_))
        ));
    }
}
