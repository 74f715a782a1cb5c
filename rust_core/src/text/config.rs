//! ConfigCore: JSON, TOML and YAML documents parsed into any value representation.
//!
//! The parsers are well-kept crates (jiter for JSON, toml_parser, the toml crate's parser,
//! for TOML 1.0, yaml-rust2 for YAML); this module walks their output and reports every
//! value to a [`Builder`], so the caller decides what a map, a list or a datetime is. The
//! PyO3 binding builds Python objects directly; [`TreeBuilder`] builds a plain Rust
//! [`Value`] for tests. JSON is driven event by event from the byte slice (a memory-mapped
//! file in the binding), with no intermediate tree and no copy of the text; TOML is built
//! from toml_parser's events in one walk (`toml_doc`, a port of the toml crate's table
//! rules); YAML files are small, so yaml-rust2's tree is walked instead.
//!
//! Semantics follow the Python reference (`pyagent/config_core.py`): JSON numbers as
//! `json.loads` reads them (integers of any size, floats correctly rounded, NaN/Infinity
//! accepted), TOML values as `tomllib` (datetimes truncated to microseconds), YAML on the
//! subset where YAML 1.2 (yaml-rust2) and YAML 1.1 (PyYAML) agree.

use std::fmt;

use jiter::{Jiter, Peek};

mod toml_doc;

pub use toml_doc::MAX_DEPTH as TOML_MAX_DEPTH;

/// Bytes of JSON parsed between two progress reports.
pub const PROGRESS_STEP: usize = 16 << 20;

/// Deepest nesting of arrays and objects accepted in JSON (`[]` is depth 1), as
/// `pyagent.config_core.JSON_MAX_DEPTH`: well below where `json.loads` stops under Python's
/// default recursion limit, wherever it is called from.
pub const MAX_DEPTH: usize = 500;

/// A document that does not parse: the byte offset where the parser stopped and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
    /// The document may be valid for the Python reference, which the crate cannot follow
    /// here: a JSON `\u` escape of a lone UTF-16 surrogate (json.loads makes a str holding
    /// it; UTF-8 cannot), or a TOML number out of the crate's range (tomllib reads `1e400`
    /// as inf and integers of any size; the crate rejects both), or a YAML document libyaml
    /// may read otherwise than yaml-rust2 (see [`yaml_tree`]). The caller lets the reference
    /// parser decide.
    pub reference_decides: bool,
}

/// Why a parse failed: the document, or the builder (whose error is passed through).
#[derive(Debug)]
pub enum ParseError<E> {
    Syntax(SyntaxError),
    Build(E),
}

impl<E> ParseError<E> {
    fn syntax(offset: usize, message: impl Into<String>) -> Self {
        ParseError::Syntax(SyntaxError {
            offset,
            message: message.into(),
            reference_decides: false,
        })
    }
}

impl<E: fmt::Display> fmt::Display for ParseError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Syntax(e) => write!(f, "{} at byte {}", e.message, e.offset),
            ParseError::Build(e) => e.fmt(f),
        }
    }
}

/// A TOML date, time or datetime, as `tomllib` distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporal {
    /// `datetime.date`
    Date { year: u16, month: u8, day: u8 },
    /// `datetime.time` (naive)
    Time {
        hour: u8,
        minute: u8,
        second: u8,
        microsecond: u32,
    },
    /// `datetime.datetime`; `offset_minutes` None is a naive (local) datetime, `Some(0)` from
    /// `Z` is UTC.
    DateTime {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        microsecond: u32,
        offset_minutes: Option<i16>,
        utc: bool,
    },
}

/// Receives the values of a document, leaves first; containers are built bottom-up.
pub trait Builder {
    type Value;
    type Map;
    type Error;

    fn null(&mut self) -> Result<Self::Value, Self::Error>;
    fn boolean(&mut self, value: bool) -> Result<Self::Value, Self::Error>;
    fn int(&mut self, value: i64) -> Result<Self::Value, Self::Error>;
    /// An integer beyond i64, as decimal text (an optional sign, then digits).
    fn big_int(&mut self, digits: &str) -> Result<Self::Value, Self::Error>;
    fn float(&mut self, value: f64) -> Result<Self::Value, Self::Error>;
    fn string(&mut self, value: &str) -> Result<Self::Value, Self::Error>;
    fn temporal(&mut self, value: Temporal) -> Result<Self::Value, Self::Error>;
    /// A mapping key that is a string (JSON and TOML keys, YAML string keys).
    fn key(&mut self, value: &str) -> Result<Self::Value, Self::Error> {
        self.string(value)
    }
    /// [`Builder::string`] with the producer's facts about it (events replayed by [`replay`]).
    fn string_hinted(&mut self, value: &str, _hint: StrHint) -> Result<Self::Value, Self::Error> {
        self.string(value)
    }
    /// [`Builder::key`] with the producer's facts about it.
    fn key_hinted(&mut self, value: &str, _hint: StrHint) -> Result<Self::Value, Self::Error> {
        self.key(value)
    }
    fn new_map(&mut self) -> Result<Self::Map, Self::Error>;
    /// Sets `key` to `value`; a repeated key keeps its first position and takes the new value.
    fn map_insert(
        &mut self,
        map: &mut Self::Map,
        key: Self::Value,
        value: Self::Value,
    ) -> Result<(), Self::Error>;
    fn finish_map(&mut self, map: Self::Map) -> Result<Self::Value, Self::Error>;
    /// A map from its entries in document order (a repeated key keeps its first position and
    /// takes the last value): what [`replay`] builds, knowing the size up front.
    fn map_from<I>(&mut self, pairs: I) -> Result<Self::Value, Self::Error>
    where
        I: ExactSizeIterator<Item = (Self::Value, Self::Value)>,
    {
        let mut map = self.new_map()?;
        for (key, value) in pairs {
            self.map_insert(&mut map, key, value)?;
        }
        self.finish_map(map)
    }
    /// A list from its items (exactly `items.len()` of them).
    fn list_from<I>(&mut self, items: I) -> Result<Self::Value, Self::Error>
    where
        I: ExactSizeIterator<Item = Self::Value>,
    {
        let items = items.collect();
        self.list(items)
    }
    fn list(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    /// Called about every [`PROGRESS_STEP`] bytes of a JSON document with the bytes parsed.
    fn progress(&mut self, _bytes_done: usize) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The document without one leading UTF-8 byte-order mark; its length is the offset shift.
pub fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data)
}

/// `data` (after any BOM) as UTF-8 text, or a syntax error at the first invalid byte.
pub fn utf8<E>(data: &[u8]) -> Result<&str, ParseError<E>> {
    let body = strip_bom(data);
    let shift = data.len() - body.len();
    std::str::from_utf8(body)
        .map_err(|e| ParseError::syntax(shift + e.valid_up_to(), "invalid UTF-8"))
}

// ---------------------------------------------------------------------------------------
// JSON

struct JsonWalk<'a, 'j, B: Builder> {
    jiter: Jiter<'j>,
    builder: &'a mut B,
    shift: usize,
    next_report: usize,
}

fn json_error<E>(err: &jiter::JiterError, shift: usize) -> ParseError<E> {
    use jiter::{JiterErrorType, JsonErrorType};
    let reference_decides = matches!(
        err.error_type,
        JiterErrorType::JsonError(
            JsonErrorType::LoneLeadingSurrogateInHexEscape
                | JsonErrorType::UnexpectedEndOfHexEscape
                | JsonErrorType::InvalidUnicodeCodePoint
        )
    );
    ParseError::Syntax(SyntaxError {
        offset: shift + err.index,
        message: err.error_type.to_string(),
        reference_decides,
    })
}

impl<B: Builder> JsonWalk<'_, '_, B> {
    fn fail(&self, err: jiter::JiterError) -> ParseError<B::Error> {
        json_error(&err, self.shift)
    }

    fn tick(&mut self) -> Result<(), ParseError<B::Error>> {
        let index = self.jiter.current_index();
        if index >= self.next_report {
            self.next_report = index + PROGRESS_STEP;
            self.builder
                .progress(self.shift + index)
                .map_err(ParseError::Build)?;
        }
        Ok(())
    }

    fn number(&mut self, peek: Peek) -> Result<B::Value, ParseError<B::Error>> {
        let start = self.jiter.current_index();
        let bytes = match self.jiter.known_number_bytes(peek) {
            Ok(bytes) => bytes,
            Err(err) => return Err(self.fail(err)),
        };
        // jiter validated the JSON number grammar, so the bytes are ASCII.
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ParseError::syntax(self.shift + start, "invalid number"))?;
        let result = match text {
            "NaN" => self.builder.float(f64::NAN),
            "Infinity" => self.builder.float(f64::INFINITY),
            "-Infinity" => self.builder.float(f64::NEG_INFINITY),
            _ if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => {
                // Rust's float parsing is correctly rounded, as Python's float() is, and
                // overflows to infinity as float("1e400") does.
                match text.parse::<f64>() {
                    Ok(value) => self.builder.float(value),
                    Err(_) => return Err(ParseError::syntax(self.shift + start, "invalid number")),
                }
            }
            _ => match text.parse::<i64>() {
                Ok(value) => self.builder.int(value),
                Err(_) => self.builder.big_int(text),
            },
        };
        result.map_err(ParseError::Build)
    }

    fn value(&mut self, peek: Peek, depth: usize) -> Result<B::Value, ParseError<B::Error>> {
        let built = match peek {
            Peek::Null => {
                self.jiter.known_null().map_err(|e| self.fail(e))?;
                self.builder.null()
            }
            Peek::True | Peek::False => {
                let value = self.jiter.known_bool(peek).map_err(|e| self.fail(e))?;
                self.builder.boolean(value)
            }
            Peek::String => {
                let text = match self.jiter.known_str() {
                    Ok(text) => text,
                    Err(err) => return Err(json_error(&err, self.shift)),
                };
                self.builder.string(text)
            }
            Peek::Array => return self.array(depth + 1),
            Peek::Object => return self.object(depth + 1),
            _ if peek.is_num() => return self.number(peek),
            _ => {
                let at = self.jiter.current_index();
                return Err(ParseError::syntax(self.shift + at, "expected value"));
            }
        };
        built.map_err(ParseError::Build)
    }

    fn check_depth(&self, depth: usize) -> Result<(), ParseError<B::Error>> {
        if depth > MAX_DEPTH {
            let at = self.jiter.current_index();
            return Err(ParseError::syntax(self.shift + at, "nesting too deep"));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<B::Value, ParseError<B::Error>> {
        self.check_depth(depth)?;
        let mut items = Vec::new();
        let mut next = self.jiter.known_array().map_err(|e| self.fail(e))?;
        while let Some(peek) = next {
            items.push(self.value(peek, depth)?);
            self.tick()?;
            next = self.jiter.array_step().map_err(|e| self.fail(e))?;
        }
        self.builder.list(items).map_err(ParseError::Build)
    }

    fn object(&mut self, depth: usize) -> Result<B::Value, ParseError<B::Error>> {
        self.check_depth(depth)?;
        let mut map = self.builder.new_map().map_err(ParseError::Build)?;
        let first = match self.jiter.known_object() {
            Ok(first) => first.map(|k| self.builder.key(k)),
            Err(err) => return Err(self.fail(err)),
        };
        let mut key = match first {
            Some(k) => Some(k.map_err(ParseError::Build)?),
            None => None,
        };
        while let Some(k) = key {
            let peek = self.jiter.peek().map_err(|e| self.fail(e))?;
            let value = self.value(peek, depth)?;
            self.builder
                .map_insert(&mut map, k, value)
                .map_err(ParseError::Build)?;
            self.tick()?;
            key = match self.jiter.next_key() {
                Ok(Some(k)) => Some(self.builder.key(k).map_err(ParseError::Build)?),
                Ok(None) => None,
                Err(err) => return Err(self.fail(err)),
            };
        }
        self.builder.finish_map(map).map_err(ParseError::Build)
    }
}

/// Parses one JSON document (UTF-8, one leading BOM skipped) into `builder`'s values.
pub fn parse_json<B: Builder>(
    data: &[u8],
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>> {
    let body = strip_bom(data);
    let shift = data.len() - body.len();
    let mut walk = JsonWalk {
        jiter: Jiter::new(body).with_allow_inf_nan(),
        builder,
        shift,
        next_report: PROGRESS_STEP,
    };
    let peek = walk.jiter.peek().map_err(|e| walk.fail(e))?;
    let value = walk.value(peek, 0)?;
    walk.jiter.finish().map_err(|e| walk.fail(e))?;
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// JSON as a stream of events
//
// `parse_json` above drives a `Builder` from the parser itself, so parsing and building run
// on one thread. For large documents the binding splits the work: a producer thread walks
// the document with jiter (no Python, no GIL) and sends its values in pre-order, a chunk of
// events at a time, through a bounded channel; the thread holding the GIL replays them into
// Python objects ([`replay`]). The producer also does the per-string work the builder would
// otherwise do under the GIL (is it ASCII, the cache hash of a short string), and every
// number is already parsed. Memory: a few chunks in flight, whatever the document's size.

/// Events per chunk sent from the producer to the builder.
pub const CHUNK_EVENTS: usize = 8192;
/// Mapping keys up to this many bytes (ASCII) carry a cache hash; string values up to
/// [`HASH_MAX_VALUE`] bytes do.
pub const HASH_MAX_KEY: usize = 64;
pub const HASH_MAX_VALUE: usize = 16;

/// A string in an event: `len` bytes at `start` of the document (`arena` false) or of the
/// chunk's arena (a string with escapes, decoded). Always valid UTF-8: only spans of `&str`
/// values become a `Text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub start: usize,
    pub len: usize,
    /// [`text_hash`] of the bytes when `ascii` and short enough to be cached, else 0.
    pub hash: u32,
    pub ascii: bool,
    pub arena: bool,
}

/// One value, or the start or end of a container, in document order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer beyond i64: its decimal text.
    BigInt(Text),
    Float(f64),
    Str(Text),
    /// The key of the next value in the enclosing object.
    Key(Text),
    ArrayStart,
    ObjectStart,
    /// Closes the innermost open array or object.
    End,
}

/// A run of events, with the decoded strings they point into and how far the document had
/// been parsed (bytes, from the start of the data including any BOM) after the last one.
#[derive(Debug, Default)]
pub struct Chunk {
    pub events: Vec<Event>,
    pub arena: Vec<u8>,
    pub offset: usize,
}

impl Chunk {
    /// The UTF-8 text of `text`, which must come from an event of this chunk over `data`.
    pub fn str<'a>(&'a self, data: &'a [u8], text: Text) -> &'a str {
        let source = if text.arena { &self.arena[..] } else { data };
        let bytes = source.get(text.start..text.start + text.len).unwrap_or(&[]);
        // SAFETY: a Text is only made (in `EventWriter::text`) from the span of a `&str`
        // borrowed from `data` or copied into this chunk's arena, so the bytes are UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

/// The cache hash of a short string (FxHash, folded to 32 bits).
pub fn text_hash(bytes: &[u8]) -> u32 {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(bytes);
    let h = hasher.finish();
    (h ^ (h >> 32)) as u32
}

struct EventWriter<'d, F, R> {
    data: &'d [u8],
    chunk: Chunk,
    emit: F,
    reuse: R,
    stopped: bool,
}

impl<F: FnMut(Chunk) -> bool, R: FnMut() -> Option<Chunk>> EventWriter<'_, F, R> {
    fn text(&mut self, s: &str, hash_max: usize) -> Text {
        let base = self.data.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        let ascii = s.is_ascii();
        let hash = if ascii && s.len() <= hash_max {
            text_hash(s.as_bytes())
        } else {
            0
        };
        if at >= base && at + s.len() <= base + self.data.len() {
            Text {
                start: at - base,
                len: s.len(),
                hash,
                ascii,
                arena: false,
            }
        } else {
            let start = self.chunk.arena.len();
            self.chunk.arena.extend_from_slice(s.as_bytes());
            Text {
                start,
                len: s.len(),
                hash,
                ascii,
                arena: true,
            }
        }
    }

    fn push(&mut self, event: Event, offset: usize) {
        self.chunk.events.push(event);
        if self.chunk.events.len() >= CHUNK_EVENTS {
            self.flush(offset);
        }
    }

    fn flush(&mut self, offset: usize) {
        let fresh = (self.reuse)().unwrap_or_else(|| Chunk {
            events: Vec::with_capacity(CHUNK_EVENTS),
            arena: Vec::new(),
            offset: 0,
        });
        let mut chunk = std::mem::replace(&mut self.chunk, fresh);
        chunk.offset = offset;
        if !self.stopped && !(self.emit)(chunk) {
            self.stopped = true;
        }
    }
}

/// Walks one JSON document (UTF-8, one leading BOM skipped) and hands its events to `emit`
/// in chunks of about [`CHUNK_EVENTS`], the last one possibly empty. `emit` returns false
/// when the receiver is gone, which stops the walk (Ok). Same grammar and numbers as
/// [`parse_json`]; a syntax error ends the walk after the chunks before it were emitted.
pub fn json_events<F: FnMut(Chunk) -> bool>(data: &[u8], emit: F) -> Result<(), SyntaxError> {
    json_events_reusing(data, emit, || None)
}

/// [`json_events`], taking each new chunk from `reuse` when it has one (an emptied chunk
/// the consumer gave back) instead of allocating it.
pub fn json_events_reusing<F, R>(data: &[u8], emit: F, reuse: R) -> Result<(), SyntaxError>
where
    F: FnMut(Chunk) -> bool,
    R: FnMut() -> Option<Chunk>,
{
    let body = strip_bom(data);
    let shift = data.len() - body.len();
    let mut jiter = Jiter::new(body).with_allow_inf_nan();
    let mut out = EventWriter {
        data,
        chunk: Chunk {
            events: Vec::with_capacity(CHUNK_EVENTS),
            arena: Vec::new(),
            offset: 0,
        },
        emit,
        reuse,
        stopped: false,
    };
    let fail = |err: jiter::JiterError| match json_error::<()>(&err, shift) {
        ParseError::Syntax(e) => e,
        ParseError::Build(()) => SyntaxError {
            offset: shift,
            message: String::new(),
            reference_decides: false,
        },
    };
    let syntax = |offset: usize, message: &str| SyntaxError {
        offset,
        message: message.to_owned(),
        reference_decides: false,
    };
    // true: an object (next comes a key), false: an array.
    let mut stack: Vec<bool> = Vec::new();
    let mut peek = jiter.peek().map_err(fail)?;
    loop {
        if out.stopped {
            return Ok(());
        }
        // One value starting at `peek`.
        let here = shift + jiter.current_index();
        let mut opened = false;
        match peek {
            Peek::Null => {
                jiter.known_null().map_err(fail)?;
                out.push(Event::Null, here);
            }
            Peek::True | Peek::False => {
                let value = jiter.known_bool(peek).map_err(fail)?;
                out.push(Event::Bool(value), here);
            }
            Peek::String => {
                let text = jiter.known_str().map_err(fail)?;
                let text = out.text(text, HASH_MAX_VALUE);
                out.push(Event::Str(text), here);
            }
            Peek::Array | Peek::Object => {
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(here, "nesting too deep"));
                }
                let object = peek == Peek::Object;
                out.push(
                    if object {
                        Event::ObjectStart
                    } else {
                        Event::ArrayStart
                    },
                    here,
                );
                stack.push(object);
                if object {
                    if let Some(key) = jiter.known_object().map_err(fail)? {
                        let key = out.text(key, HASH_MAX_KEY);
                        out.push(Event::Key(key), here);
                        peek = jiter.peek().map_err(fail)?;
                        opened = true;
                    }
                } else if let Some(first) = jiter.known_array().map_err(fail)? {
                    peek = first;
                    opened = true;
                }
                if !opened {
                    stack.pop();
                    out.push(Event::End, here);
                }
            }
            _ if peek.is_num() => {
                let bytes = jiter.known_number_bytes(peek).map_err(fail)?;
                let text =
                    std::str::from_utf8(bytes).map_err(|_| syntax(here, "invalid number"))?;
                let event = match text {
                    "NaN" => Event::Float(f64::NAN),
                    "Infinity" => Event::Float(f64::INFINITY),
                    "-Infinity" => Event::Float(f64::NEG_INFINITY),
                    _ if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => {
                        // Correctly rounded, as Python's float(); overflow is infinity.
                        match text.parse::<f64>() {
                            Ok(value) => Event::Float(value),
                            Err(_) => return Err(syntax(here, "invalid number")),
                        }
                    }
                    _ => match text.parse::<i64>() {
                        Ok(value) => Event::Int(value),
                        Err(_) => Event::BigInt(out.text(text, 0)),
                    },
                };
                out.push(event, here);
            }
            _ => return Err(syntax(here, "expected value")),
        }
        if opened {
            continue;
        }
        // After a value: the next one in the innermost container, or close containers.
        loop {
            let here = shift + jiter.current_index();
            match stack.last() {
                None => {
                    jiter.finish().map_err(fail)?;
                    out.flush(data.len());
                    return Ok(());
                }
                Some(true) => match jiter.next_key().map_err(fail)? {
                    Some(key) => {
                        let key = out.text(key, HASH_MAX_KEY);
                        out.push(Event::Key(key), here);
                        peek = jiter.peek().map_err(fail)?;
                        break;
                    }
                    None => {
                        stack.pop();
                        out.push(Event::End, here);
                    }
                },
                Some(false) => match jiter.array_step().map_err(fail)? {
                    Some(next) => {
                        peek = next;
                        break;
                    }
                    None => {
                        stack.pop();
                        out.push(Event::End, here);
                    }
                },
            }
        }
    }
}

/// What [`Builder`] may also use when it replays events: the producer's facts about a
/// string (see [`Text`]).
#[derive(Debug, Clone, Copy)]
pub struct StrHint {
    pub ascii: bool,
    /// [`text_hash`] when the string is ASCII and short enough to be cached.
    pub hash: Option<u32>,
}

impl StrHint {
    fn of(text: Text) -> Self {
        StrHint {
            ascii: text.ascii,
            hash: (text.ascii && text.hash != 0).then_some(text.hash),
        }
    }
}

/// An open container in [`replay`]: where its items start on the shared stacks.
enum Frame {
    List(usize),
    Map(usize),
}

/// Builds the document whose events arrive in `chunks` (from [`json_events`] over `data`).
/// Progress is reported about every [`PROGRESS_STEP`] bytes, at chunk boundaries. Each used
/// chunk, emptied, goes to `recycle` (so the producer can reuse its buffers).
pub fn replay<B, I>(
    data: &[u8],
    chunks: I,
    builder: &mut B,
    mut recycle: impl FnMut(Chunk),
) -> Result<B::Value, ParseError<B::Error>>
where
    B: Builder,
    I: IntoIterator<Item = Result<Chunk, SyntaxError>>,
{
    // The items of every open list, and the entries of every open map, on two stacks (no
    // allocation per container); `keys` holds the key awaiting each open map's next value.
    let mut frames: Vec<Frame> = Vec::new();
    let mut items: Vec<B::Value> = Vec::new();
    let mut entries: Vec<(B::Value, B::Value)> = Vec::new();
    let mut keys: Vec<Option<B::Value>> = Vec::new();
    let mut next_report = PROGRESS_STEP;
    // The document's value once complete; the producer may still report trailing garbage
    // (its check comes after the last event, which can end a chunk), so the remaining
    // chunks are read before it is returned.
    let mut complete: Option<B::Value> = None;
    for chunk in chunks {
        let mut chunk = chunk.map_err(ParseError::Syntax)?;
        for &event in &chunk.events {
            let value = match event {
                Event::Null => builder.null(),
                Event::Bool(v) => builder.boolean(v),
                Event::Int(v) => builder.int(v),
                Event::Float(v) => builder.float(v),
                Event::BigInt(t) => builder.big_int(chunk.str(data, t)),
                Event::Str(t) => builder.string_hinted(chunk.str(data, t), StrHint::of(t)),
                Event::Key(t) => {
                    let key = builder
                        .key_hinted(chunk.str(data, t), StrHint::of(t))
                        .map_err(ParseError::Build)?;
                    if let Some(slot) = keys.last_mut() {
                        *slot = Some(key);
                    }
                    continue;
                }
                Event::ArrayStart => {
                    frames.push(Frame::List(items.len()));
                    continue;
                }
                Event::ObjectStart => {
                    frames.push(Frame::Map(entries.len()));
                    keys.push(None);
                    continue;
                }
                Event::End => match frames.pop() {
                    Some(Frame::List(start)) => builder.list_from(items.drain(start..)),
                    Some(Frame::Map(start)) => {
                        keys.pop();
                        builder.map_from(entries.drain(start..))
                    }
                    None => continue,
                },
            };
            let value = value.map_err(ParseError::Build)?;
            match frames.last() {
                None => complete = Some(value),
                Some(Frame::List(_)) => items.push(value),
                Some(Frame::Map(_)) => {
                    if let Some(key) = keys.last_mut().and_then(Option::take) {
                        entries.push((key, value));
                    }
                }
            }
        }
        if chunk.offset >= next_report && chunk.offset < data.len() {
            next_report = chunk.offset + PROGRESS_STEP;
            builder.progress(chunk.offset).map_err(ParseError::Build)?;
        }
        chunk.events.clear();
        chunk.arena.clear();
        recycle(chunk);
    }
    // No complete value: only if the producer stopped early.
    complete.ok_or_else(|| ParseError::syntax(data.len(), "unexpected end of events"))
}

/// [`json_events`] then [`replay`] on one thread: for small documents and tests.
pub fn parse_json_events<B: Builder>(
    data: &[u8],
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>> {
    let mut chunks = Vec::new();
    let walked = json_events(data, |chunk| {
        chunks.push(Ok(chunk));
        true
    });
    if let Err(e) = walked {
        chunks.push(Err(e));
    }
    replay(data, chunks, builder, drop)
}

// ---------------------------------------------------------------------------------------
// TOML

/// A lexed and parsed TOML 1.0 document (UTF-8, one leading BOM skipped): the parser's
/// events, checked for syntax, made without any [`Builder`] so a caller can do it without
/// holding a lock. Tables, keys and values are checked and built by [`build_toml`].
pub fn toml_tree(data: &[u8]) -> Result<TomlTree<'_>, SyntaxError> {
    let text = utf8::<()>(data).map_err(syntax_only)?;
    let shift = data.len() - strip_bom(data).len();
    // One byte-order mark is skipped; tomllib refuses a second (the toml lexer would skip it).
    if text.starts_with('\u{feff}') {
        return Err(SyntaxError {
            offset: shift,
            message: "invalid statement".to_owned(),
            reference_decides: false,
        });
    }
    toml_doc::toml_events(text, shift).map(|events| TomlTree { events })
}

/// A lexed and parsed TOML document, to be built by [`build_toml`].
pub struct TomlTree<'a> {
    events: toml_doc::TomlEvents<'a>,
}

/// Reports a TOML document to `builder`: duplicate keys, table redefinitions and invalid
/// scalars are [`SyntaxError`]s; a number out of the crate's range is one the reference
/// parser decides.
pub fn build_toml<B: Builder>(
    tree: &TomlTree<'_>,
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>> {
    toml_doc::build(&tree.events, builder)
}

/// Parses one TOML 1.0 document (UTF-8, one leading BOM skipped).
pub fn parse_toml<B: Builder>(
    data: &[u8],
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>> {
    let tree = toml_tree(data).map_err(ParseError::Syntax)?;
    build_toml(&tree, builder)
}

fn syntax_only(err: ParseError<()>) -> SyntaxError {
    match err {
        ParseError::Syntax(e) => e,
        ParseError::Build(()) => SyntaxError {
            offset: 0,
            message: String::new(),
            reference_decides: false,
        },
    }
}

// ---------------------------------------------------------------------------------------
// YAML

fn is_decimal_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn yaml_float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ => text.parse::<f64>().ok(),
    }
}

/// Whether `text` holds syntax that libyaml (YAML 1.1) may read otherwise than yaml-rust2
/// (YAML 1.2); see [`yaml_tree`]. One pass, looking only around the bytes that matter:
/// * a tab: libyaml refuses one where a block-context token may start (`- \tx`);
/// * a document end marker `...` at a line start: libyaml refuses one before any document;
/// * `:` before a flow indicator (`[a:]`: "found unexpected ':'" there), or `:` / `?`
///   starting a token with no blank after it (`{k: :0}`, `{?b: }`: always indicators in
///   libyaml's flow context, plain scalars in YAML 1.2);
/// * `|` or `>` starting a token in a document with a flow collection (an error there);
/// * an anchor or alias whose name is not `[0-9A-Za-z_-]+` up to a blank or flow indicator
///   (`&k: v` anchors `k` in libyaml, `k:` in yaml-rust2; an empty name is an error).
fn yaml11_grammar_differs(text: &[u8]) -> bool {
    let blank = |b: Option<&u8>| matches!(b, None | Some(b' ' | b'\t' | b'\r' | b'\n'));
    let flow = |b: Option<&u8>| matches!(b, Some(b',' | b'?' | b'[' | b']' | b'{' | b'}'));
    let ends_name = |b: &u8| blank(Some(b)) || matches!(b, b',' | b'[' | b']' | b'{' | b'}');
    let mut has_flow: Option<bool> = None;
    text.iter().enumerate().any(|(i, &b)| {
        if !matches!(b, b'\t' | b':' | b'?' | b'|' | b'>' | b'&' | b'*' | b'.') {
            return false;
        }
        let (before, after) = (i.checked_sub(1).and_then(|j| text.get(j)), text.get(i + 1));
        let token_start = blank(before) || flow(before);
        match b {
            b'\t' => true,
            b'.' => {
                matches!(before, None | Some(b'\n'))
                    && text[i..].starts_with(b"...")
                    && blank(text.get(i + 3))
            }
            b':' => flow(after) || (token_start && !blank(after)),
            b'?' => token_start && !blank(after),
            b'|' | b'>' => {
                token_start
                    && *has_flow.get_or_insert_with(|| memchr::memchr2(b'[', b'{', text).is_some())
            }
            _ => {
                // `&` or `*`: only at a token start is it an anchor or alias.
                let name = text[i + 1..].split(ends_name).next().unwrap_or(&[]);
                token_start
                    && (name.is_empty()
                        || !name
                            .iter()
                            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'))
            }
        }
    })
}

/// What PyYAML's SafeLoader makes of a plain (unquoted, untagged) scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plain {
    Str,
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A value the crate leaves to the reference: a timestamp (a `datetime`), a merge key
    /// `<<`, `=`, a base-60 number, or an integer beyond 128 bits in base 2, 8 or 16.
    Defer,
}

/// PyYAML's implicit resolvers (`yaml/resolver.py`, YAML 1.1), tried in its order; the first
/// whose pattern matches the whole scalar decides its tag. Its `bool` and `null` patterns
/// are fixed words, which [`yaml11_plain`] matches before these.
const YAML11_RESOLVERS: [(&str, &str); 5] = [
    (
        "float",
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    ),
    (
        "int",
        "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    ),
    ("merge", "^(?:<<)$"),
    (
        "timestamp",
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    ),
    ("value", "^(?:=)$"),
];

fn yaml11_resolvers() -> Option<&'static regex::RegexSet> {
    static SET: std::sync::OnceLock<Option<regex::RegexSet>> = std::sync::OnceLock::new();
    SET.get_or_init(|| regex::RegexSet::new(YAML11_RESOLVERS.iter().map(|(_, p)| p)).ok())
        .as_ref()
}

/// `value` (a plain scalar) as PyYAML's SafeLoader resolves and constructs it.
fn yaml11_plain(value: &str) -> Plain {
    match value {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Plain::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Plain::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        _ => {}
    }
    // Every other resolver's pattern starts with one of these (PyYAML indexes them so too).
    if !matches!(
        value.as_bytes().first(),
        Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'<' | b'=')
    ) {
        return Plain::Str;
    }
    // The common numbers first, without the patterns: what they resolve to is plain (no
    // float or timestamp pattern matches bare digits; `1.5` is only a float).
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if all_digits(unsigned) && (unsigned == "0" || !unsigned.starts_with('0')) {
        return value.parse::<i128>().map_or(Plain::Defer, Plain::Int);
    }
    if let Some((whole, fraction)) = unsigned.split_once('.') {
        if all_digits(whole) && all_digits(fraction) {
            return value.parse::<f64>().map_or(Plain::Defer, Plain::Float);
        }
    }
    let Some(set) = yaml11_resolvers() else {
        return Plain::Defer;
    };
    let Some(index) = set.matches(value).iter().next() else {
        return Plain::Str;
    };
    match YAML11_RESOLVERS[index].0 {
        "int" => yaml11_int(value),
        "float" => yaml11_float(value),
        _ => Plain::Defer,
    }
}

/// SafeConstructor.construct_yaml_int on a scalar the int pattern matched.
fn yaml11_int(value: &str) -> Plain {
    if value.contains(':') {
        return Plain::Defer;
    }
    let digits: String = value.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match digits.as_bytes().first() {
        Some(b'-') => (true, &digits[1..]),
        Some(b'+') => (false, &digits[1..]),
        _ => (false, &digits[..]),
    };
    let (radix, body) = if digits == "0" {
        (10, "0")
    } else if let Some(rest) = digits.strip_prefix("0b") {
        (2, rest)
    } else if let Some(rest) = digits.strip_prefix("0x") {
        (16, rest)
    } else if digits.starts_with('0') {
        (8, digits)
    } else {
        (10, digits)
    };
    // `0b_` is `int('', 2)` there: a ValueError the reference raises as it does.
    match i128::from_str_radix(body, radix) {
        Ok(v) if !body.is_empty() => Plain::Int(if negative { -v } else { v }),
        _ => Plain::Defer,
    }
}

/// SafeConstructor.construct_yaml_float on a scalar the float pattern matched.
fn yaml11_float(value: &str) -> Plain {
    if value.contains(':') {
        return Plain::Defer;
    }
    let text: String = value
        .chars()
        .filter(|&c| c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let (sign, text) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, &text[..]),
    };
    match text {
        ".inf" => Plain::Float(sign * f64::INFINITY),
        ".nan" => Plain::Float(f64::NAN),
        // Python's float() and Rust's parse both round correctly, on the same grammar here
        // (digits, a dot, maybe digits, maybe a signed exponent).
        _ => text
            .parse::<f64>()
            .map_or(Plain::Defer, |v| Plain::Float(sign * v)),
    }
}

/// Deepest nesting of sequences and mappings in a YAML document, aliases expanded
/// (`pyagent.config_core.YAML_MAX_DEPTH`): libyaml stops at 1000 levels and yaml-rust2 at
/// 255 flow levels (a u8), so neither parser's own limit decides.
pub const YAML_MAX_DEPTH: usize = 255;
/// Nodes aliases may add to a YAML document: its size in bytes, at least this floor
/// (`pyagent.config_core.YAML_ALIAS_NODES_FLOOR`) ...
pub const YAML_ALIAS_NODES_FLOOR: u64 = 100_000;
/// ... and at most this cap (`YAML_ALIAS_NODES_CAP`).
pub const YAML_ALIAS_NODES_CAP: u64 = 10_000_000;

/// The alias expansion budget of a YAML document of `bytes` bytes (BOM excluded).
pub fn yaml_alias_budget(bytes: usize) -> u64 {
    (bytes as u64).clamp(YAML_ALIAS_NODES_FLOOR, YAML_ALIAS_NODES_CAP)
}

/// A node of a composed YAML document. An alias is not a node: its parent holds the index
/// of the node it names, which is shared (built once), as PyYAML shares it.
enum YamlNode {
    Scalar(yaml_rust2::Yaml),
    Seq(Vec<usize>),
    /// Keys and values alternating.
    Map(Vec<usize>),
}

/// A composed YAML stream: the node graph and each document's root.
pub struct YamlGraph {
    nodes: Vec<YamlNode>,
    root: Option<usize>,
}

/// Composes yaml-rust2's events into a [`YamlGraph`], checking the limits as it goes: the
/// expanded size and depth of every node are known when it ends, so an alias adds its
/// target's size to the expansion count in O(1) and nothing is ever copied.
struct Composer {
    nodes: Vec<YamlNode>,
    /// Expanded node count and expanded nesting depth of each node.
    size: Vec<u64>,
    depth: Vec<usize>,
    /// Open sequences and mappings: (node, anchor id).
    open: Vec<(usize, usize)>,
    /// Anchor id -> node, for anchors whose node has ended (yaml-rust2's loader has the same
    /// rule: an alias inside its own anchor's node is not resolved).
    anchors: std::collections::HashMap<usize, usize>,
    documents: usize,
    root: Option<usize>,
    expanded: u64,
    budget: u64,
    error: Option<(yaml_rust2::scanner::Marker, String)>,
    /// A node carried a tag (`!x`, `!!str`, `!<uri>`, `!`), or a plain scalar is one the
    /// reference resolves to what the crate does not build (see [`yaml11_plain`]).
    deferred: bool,
    /// The latest scalar is a block scalar (`|`, `>`): if nothing follows, it ran to the end
    /// of the stream, where the two parsers chomp differently.
    last_block: bool,
}

impl Composer {
    fn fail(&mut self, mark: yaml_rust2::scanner::Marker, message: String) {
        if self.error.is_none() {
            self.error = Some((mark, message));
        }
    }

    fn open(&mut self, node: YamlNode, anchor: usize, mark: yaml_rust2::scanner::Marker) {
        if self.open.len() >= YAML_MAX_DEPTH {
            return self.fail(mark, format!("nesting deeper than {YAML_MAX_DEPTH} levels"));
        }
        self.nodes.push(node);
        self.size.push(1);
        self.depth.push(1);
        self.open.push((self.nodes.len() - 1, anchor));
    }

    fn close(&mut self, mark: yaml_rust2::scanner::Marker) {
        let Some((id, anchor)) = self.open.pop() else {
            return;
        };
        let children = match &self.nodes[id] {
            YamlNode::Seq(items) | YamlNode::Map(items) => items.as_slice(),
            YamlNode::Scalar(_) => &[],
        };
        let mut size: u64 = 1;
        let mut depth = 0;
        for &child in children {
            size = size.saturating_add(self.size[child]);
            depth = depth.max(self.depth[child]);
        }
        self.size[id] = size;
        self.depth[id] = depth + 1;
        if depth + 1 > YAML_MAX_DEPTH {
            return self.fail(mark, format!("nesting deeper than {YAML_MAX_DEPTH} levels"));
        }
        self.attach(id, anchor);
    }

    fn attach(&mut self, id: usize, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, id);
        }
        match self.open.last() {
            Some(&(parent, _)) => {
                if let YamlNode::Seq(items) | YamlNode::Map(items) = &mut self.nodes[parent] {
                    items.push(id);
                }
            }
            None => self.root = Some(id),
        }
    }

    fn scalar(&mut self, value: String, style: yaml_rust2::scanner::TScalarStyle, anchor: usize) {
        use yaml_rust2::scanner::TScalarStyle;
        use yaml_rust2::Yaml;
        if matches!(style, TScalarStyle::Literal | TScalarStyle::Folded) {
            self.last_block = true;
        } else if !value.is_empty() {
            // An empty plain scalar may be an implicit value after the block (`? |\n  x`):
            // it is not text after it.
            self.last_block = false;
        }
        let plain = style == TScalarStyle::Plain;
        if plain && value.is_empty() && self.expects_key() {
            // An empty key with no `?` before it (`: x`, `[: x]`, `- :`): YAML 1.2 allows
            // it, libyaml does not. The explicit `? ` form, which both read, is rare enough
            // to go the same way.
            self.deferred = true;
        }
        // A plain scalar resolved as PyYAML's SafeLoader does (YAML 1.1), not as yaml-rust2
        // does (YAML 1.2): `no` is False and `0o17` a string there.
        let node = if !plain {
            Yaml::String(value)
        } else {
            match yaml11_plain(&value) {
                Plain::Str => Yaml::String(value),
                Plain::Null => Yaml::Null,
                Plain::Bool(v) => Yaml::Boolean(v),
                Plain::Int(v) => match i64::try_from(v) {
                    Ok(small) => Yaml::Integer(small),
                    // Decimal digits: built as a Python int of any size.
                    Err(_) => Yaml::Real(v.to_string()),
                },
                // `{:?}` spells every f64 (inf and NaN too) so that it parses back the same.
                Plain::Float(v) => Yaml::Real(format!("{v:?}")),
                Plain::Defer => {
                    self.deferred = true;
                    Yaml::String(value)
                }
            }
        };
        self.nodes.push(YamlNode::Scalar(node));
        self.size.push(1);
        self.depth.push(0);
        self.attach(self.nodes.len() - 1, anchor);
    }

    /// Whether the next node is a key: the innermost open node is a mapping whose entries
    /// so far are whole pairs.
    fn expects_key(&self) -> bool {
        match self.open.last().map(|&(id, _)| &self.nodes[id]) {
            Some(YamlNode::Map(items)) => items.len() % 2 == 0,
            _ => false,
        }
    }

    fn alias(&mut self, anchor: usize, mark: yaml_rust2::scanner::Marker) {
        let Some(&target) = self.anchors.get(&anchor) else {
            return self.fail(mark, "recursive alias: a node contains itself".to_owned());
        };
        self.expanded = self.expanded.saturating_add(self.size[target]);
        if self.expanded > self.budget {
            let budget = self.budget;
            return self.fail(mark, format!("aliases expand to more than {budget} nodes"));
        }
        let depth = self.open.len() + self.depth[target];
        if depth > YAML_MAX_DEPTH {
            return self.fail(mark, format!("nesting deeper than {YAML_MAX_DEPTH} levels"));
        }
        self.attach(target, 0);
    }
}

impl yaml_rust2::parser::MarkedEventReceiver for Composer {
    fn on_event(&mut self, event: yaml_rust2::Event, mark: yaml_rust2::scanner::Marker) {
        use yaml_rust2::Event;
        if self.error.is_some() {
            return;
        }
        match event {
            Event::SequenceStart(anchor, tag) => {
                self.deferred |= tag.is_some();
                self.last_block = false;
                self.open(YamlNode::Seq(Vec::new()), anchor, mark)
            }
            Event::MappingStart(anchor, tag) => {
                self.deferred |= tag.is_some();
                self.last_block = false;
                self.open(YamlNode::Map(Vec::new()), anchor, mark)
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(mark),
            Event::Scalar(value, style, anchor, tag) => {
                self.deferred |= tag.is_some();
                self.scalar(value, style, anchor)
            }
            Event::Alias(anchor) => {
                self.last_block = false;
                self.alias(anchor, mark)
            }
            Event::DocumentEnd => self.documents += 1,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart => {}
        }
    }
}

enum YamlFailure<E> {
    Build(E),
    Unsupported(&'static str),
}

/// Builds node `id` (and what it holds); a node met again (an alias) is the same value.
fn yaml_node<B: Builder>(
    graph: &YamlGraph,
    id: usize,
    built: &mut [Option<B::Value>],
    b: &mut B,
) -> Result<B::Value, YamlFailure<B::Error>>
where
    B::Value: Clone,
{
    use yaml_rust2::Yaml;
    if let Some(Some(value)) = built.get(id) {
        return Ok(value.clone());
    }
    let value = match &graph.nodes[id] {
        YamlNode::Scalar(scalar) => match scalar {
            Yaml::String(s) => b.string(s),
            Yaml::Integer(i) => b.int(*i),
            // An integer beyond i64 comes back as Real with its digits: make it a Python int.
            Yaml::Real(s) if is_decimal_int(s) => b.big_int(s),
            Yaml::Real(s) => match yaml_float(s) {
                Some(f) => b.float(f),
                None => return Err(YamlFailure::Unsupported("invalid float")),
            },
            Yaml::Boolean(v) => b.boolean(*v),
            Yaml::Null => b.null(),
            _ => return Err(YamlFailure::Unsupported("unresolved alias or bad value")),
        },
        YamlNode::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for &item in items {
                out.push(yaml_node(graph, item, built, b)?);
            }
            b.list(out)
        }
        YamlNode::Map(parts) => {
            let mut map = b.new_map().map_err(YamlFailure::Build)?;
            for pair in parts.chunks_exact(2) {
                let k = match &graph.nodes[pair[0]] {
                    YamlNode::Seq(_) | YamlNode::Map(_) => {
                        return Err(YamlFailure::Unsupported("found unhashable key"))
                    }
                    YamlNode::Scalar(Yaml::String(s)) => b.key(s).map_err(YamlFailure::Build)?,
                    YamlNode::Scalar(_) => yaml_node(graph, pair[0], built, b)?,
                };
                let v = yaml_node(graph, pair[1], built, b)?;
                b.map_insert(&mut map, k, v).map_err(YamlFailure::Build)?;
            }
            b.finish_map(map)
        }
    };
    let value = value.map_err(YamlFailure::Build)?;
    if let Some(slot) = built.get_mut(id) {
        *slot = Some(value.clone());
    }
    Ok(value)
}

/// The characters a YAML 1.1 stream may hold (PyYAML's `Reader.NON_PRINTABLE`, negated).
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A composed YAML stream (UTF-8, leading BOMs skipped as libyaml skips them): its one
/// document, an empty graph for an empty stream; more than one document is an error, as
/// PyYAML's `safe_load` has it. Nesting, alias expansion and recursive aliases are checked
/// against the limits above.
pub fn yaml_tree(data: &[u8]) -> Result<YamlGraph, SyntaxError> {
    let text = utf8::<()>(data).map_err(syntax_only)?;
    // libyaml skips a byte-order mark at the start of a line; at the start of the stream
    // there may be several.
    let text = text.trim_start_matches('\u{feff}');
    let shift = data.len() - text.len();
    let byte_offset = |chars: usize| {
        shift
            + text
                .char_indices()
                .nth(chars)
                .map_or(text.len(), |(i, _)| i)
    };
    // PyYAML's reader rejects characters YAML 1.1 calls non-printable; yaml-rust2 does not.
    if let Some((at, _)) = text.char_indices().find(|&(_, c)| !yaml_printable(c)) {
        return Err(SyntaxError {
            offset: shift + at,
            message: "unacceptable character: control characters are not allowed".to_owned(),
            reference_decides: false,
        });
    }
    let mut composer = Composer {
        nodes: Vec::new(),
        size: Vec::new(),
        depth: Vec::new(),
        open: Vec::new(),
        anchors: std::collections::HashMap::new(),
        documents: 0,
        root: None,
        expanded: 0,
        budget: yaml_alias_budget(text.len()),
        error: None,
        deferred: false,
        last_block: false,
    };
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    let loaded = parser.load(&mut composer, true);
    // Where yaml-rust2 (YAML 1.2) and libyaml (YAML 1.1) may read a document differently,
    // the reference parser reads it: a tag (which tags the safe loader constructs, where a
    // tag may end), a plain scalar the crate does not build or an empty implicit key (the
    // composer's `deferred`), a block scalar running to the end of the stream (libyaml drops
    // its last line break), the grammar cases of `yaml11_grammar_differs`, and every
    // document yaml-rust2 refuses: where it is stricter (`[a -]`) the reference reads it,
    // and where both refuse, the reference's error is the one to give anyway.
    if composer.deferred
        || loaded.is_err()
        || composer.last_block
        || yaml11_grammar_differs(text.as_bytes())
    {
        return Err(SyntaxError {
            offset: shift,
            message: "YAML that libyaml may read otherwise: the reference parser decides"
                .to_owned(),
            reference_decides: true,
        });
    }
    if let Some((mark, message)) = composer.error.take() {
        return Err(SyntaxError {
            offset: byte_offset(mark.index()),
            message,
            reference_decides: false,
        });
    }
    if composer.documents > 1 {
        return Err(SyntaxError {
            offset: shift,
            message: "expected a single document in the stream".to_owned(),
            reference_decides: false,
        });
    }
    Ok(YamlGraph {
        nodes: composer.nodes,
        root: composer.root,
    })
}

/// Reports a composed YAML document (no root: an empty stream, null) to `builder`.
pub fn build_yaml<B: Builder>(
    graph: &YamlGraph,
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>>
where
    B::Value: Clone,
{
    match graph.root {
        None => builder.null().map_err(ParseError::Build),
        Some(root) => {
            let mut built: Vec<Option<B::Value>> = Vec::new();
            built.resize_with(graph.nodes.len(), || None);
            yaml_node(graph, root, &mut built, builder).map_err(|e| match e {
                YamlFailure::Build(err) => ParseError::Build(err),
                YamlFailure::Unsupported(why) => ParseError::syntax(0, why),
            })
        }
    }
}

/// Parses one YAML document (see [`yaml_tree`]).
pub fn parse_yaml<B: Builder>(
    data: &[u8],
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>>
where
    B::Value: Clone,
{
    let graph = yaml_tree(data).map_err(ParseError::Syntax)?;
    build_yaml(&graph, builder)
}

// ---------------------------------------------------------------------------------------
// A plain Rust value tree, for tests and Rust callers.

/// A parsed value without Python: what [`TreeBuilder`] builds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    BigInt(String),
    Float(f64),
    String(String),
    Temporal(Temporal),
    List(Vec<Value>),
    /// Entries in first-insertion order.
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// The entry under the string key `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::String(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Builds [`Value`]s.
#[derive(Debug, Default)]
pub struct TreeBuilder {
    /// Every progress report received, in bytes.
    pub reports: Vec<usize>,
}

impl Builder for TreeBuilder {
    type Value = Value;
    type Map = Vec<(Value, Value)>;
    type Error = std::convert::Infallible;

    fn null(&mut self) -> Result<Value, Self::Error> {
        Ok(Value::Null)
    }
    fn boolean(&mut self, value: bool) -> Result<Value, Self::Error> {
        Ok(Value::Bool(value))
    }
    fn int(&mut self, value: i64) -> Result<Value, Self::Error> {
        Ok(Value::Int(value))
    }
    fn big_int(&mut self, digits: &str) -> Result<Value, Self::Error> {
        Ok(Value::BigInt(digits.to_owned()))
    }
    fn float(&mut self, value: f64) -> Result<Value, Self::Error> {
        Ok(Value::Float(value))
    }
    fn string(&mut self, value: &str) -> Result<Value, Self::Error> {
        Ok(Value::String(value.to_owned()))
    }
    fn temporal(&mut self, value: Temporal) -> Result<Value, Self::Error> {
        Ok(Value::Temporal(value))
    }
    fn new_map(&mut self) -> Result<Self::Map, Self::Error> {
        Ok(Vec::new())
    }
    fn map_insert(
        &mut self,
        map: &mut Self::Map,
        key: Value,
        value: Value,
    ) -> Result<(), Self::Error> {
        match map.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => map.push((key, value)),
        }
        Ok(())
    }
    fn finish_map(&mut self, map: Self::Map) -> Result<Value, Self::Error> {
        Ok(Value::Map(map))
    }
    fn list(&mut self, items: Vec<Value>) -> Result<Value, Self::Error> {
        Ok(Value::List(items))
    }
    fn progress(&mut self, bytes_done: usize) -> Result<(), Self::Error> {
        self.reports.push(bytes_done);
        Ok(())
    }
}

/// Merges `update` into `base`: maps recursively, anything else (lists too) replaced.
pub fn deep_merge(base: &mut Value, update: Value) {
    match (base, update) {
        (Value::Map(target), Value::Map(source)) => {
            for (key, value) in source {
                match target.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, current))
                        if matches!((&*current, &value), (Value::Map(_), Value::Map(_))) =>
                    {
                        deep_merge(current, value)
                    }
                    Some((_, current)) => *current = value,
                    None => target.push((key, value)),
                }
            }
        }
        (base, update) => *base = update,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Value, ParseError<std::convert::Infallible>> {
        parse_json(text.as_bytes(), &mut TreeBuilder::default())
    }

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    #[test]
    fn json_values_like_json_loads() {
        let v = json(r#"{"a": [1, -2, 1.5, 1e400, null, true, "x\u00e9"], "a": {"b": 123456789012345678901234567890}}"#)
            .unwrap();
        assert_eq!(
            v,
            Value::Map(vec![(
                s("a"),
                Value::Map(vec![(
                    s("b"),
                    Value::BigInt("123456789012345678901234567890".into())
                )])
            )])
        );
        let v = json("[1, -0, 0.1, 1e400, -Infinity, \"x\\u00e9\"]").unwrap();
        assert_eq!(
            v,
            Value::List(vec![
                Value::Int(1),
                Value::Int(0),
                Value::Float(0.1),
                Value::Float(f64::INFINITY),
                Value::Float(f64::NEG_INFINITY),
                s("xé"),
            ])
        );
        assert!(matches!(json("NaN").unwrap(), Value::Float(f) if f.is_nan()));
        assert_eq!(json("\u{feff}[]").unwrap(), Value::List(vec![]));
    }

    #[test]
    fn json_errors_carry_byte_offsets() {
        for (doc, offset) in [("{\"a\": x}", 6), ("[1 2]", 3), ("", 0), ("\"\u{1}\"", 1)] {
            match json(doc) {
                Err(ParseError::Syntax(e)) => assert_eq!(e.offset, offset, "{doc:?}: {e:?}"),
                other => panic!("{doc:?}: {other:?}"),
            }
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(json(&deep), Err(ParseError::Syntax(_))));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(json(&ok).is_ok());
        assert!(matches!(
            parse_json(b"[\"\xff\"]", &mut TreeBuilder::default()),
            Err(ParseError::Syntax(_))
        ));
    }

    fn events(text: &[u8]) -> Result<Value, ParseError<std::convert::Infallible>> {
        parse_json_events(text, &mut TreeBuilder::default())
    }

    #[test]
    fn json_events_build_what_the_parser_builds() {
        let docs: [&[u8]; 12] = [
            br#"{"a": [1, -2, 1.5, 1e400, null, true, "x\u00e9"], "a": {"b": 123456789012345678901234567890}}"#,
            b"[1, -0, 0.1, 1e400, -Infinity, \"x\\u00e9\", NaN, false, {}, [], [[]], {\"k\": {}}]",
            b"\xef\xbb\xbf{\"\xc3\xa9t\xc3\xa9\": \"caf\xc3\xa9\", \"esc\\n\": \"a\\tb\"}",
            b"\"top\"",
            b"12",
            b"  [ ]  ",
            b"{\"a\": x}",
            b"[1 2]",
            b"",
            b"[\"\xff\"]",
            b"{\"a\": [1, 2",
            b"[\"\\ud800\"]",
        ];
        for doc in docs {
            let direct = parse_json(doc, &mut TreeBuilder::default());
            let replayed = events(doc);
            match (&direct, &replayed) {
                (Ok(a), Ok(b)) => assert!(format!("{a:?}") == format!("{b:?}"), "{a:?} {b:?}"),
                (Err(ParseError::Syntax(a)), Err(ParseError::Syntax(b))) => {
                    assert_eq!(a.reference_decides, b.reference_decides, "{doc:?}");
                    assert_eq!(a.offset, b.offset, "{doc:?}");
                }
                _ => panic!("{doc:?}: {direct:?} vs {replayed:?}"),
            }
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(matches!(
            events(deep.as_bytes()),
            Err(ParseError::Syntax(_))
        ));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(events(ok.as_bytes()).is_ok());
        // Many chunks, strings with escapes spread over several arenas.
        let big = format!(
            "[{}0]",
            "{\"k\\n\": \"v\\t\", \"n\": 1},".repeat(CHUNK_EVENTS)
        );
        assert_eq!(
            parse_json(big.as_bytes(), &mut TreeBuilder::default()).unwrap(),
            events(big.as_bytes()).unwrap()
        );
    }

    #[test]
    fn json_events_trailing_garbage_after_a_full_chunk() {
        // The closing bracket is the last event of the first chunk; the garbage after it
        // is found only once that chunk has been sent.
        let doc = format!("[{}0] x", "1,".repeat(CHUNK_EVENTS - 3));
        assert!(matches!(events(doc.as_bytes()), Err(ParseError::Syntax(_))));
        assert!(matches!(
            parse_json(doc.as_bytes(), &mut TreeBuilder::default()),
            Err(ParseError::Syntax(_))
        ));
        let fine = format!("[{}0] ", "1,".repeat(CHUNK_EVENTS - 3));
        assert!(events(fine.as_bytes()).is_ok());
    }

    #[test]
    fn json_events_stop_when_the_receiver_does() {
        let big = format!("[{}0]", "1,".repeat(CHUNK_EVENTS * 4));
        let mut seen = 0;
        let walked = json_events(big.as_bytes(), |_| {
            seen += 1;
            false
        });
        assert!(walked.is_ok());
        assert_eq!(seen, 1);
    }

    #[test]
    fn json_events_report_progress() {
        let doc = format!("[{}0]", "1234567,".repeat(PROGRESS_STEP / 8 * 3));
        let mut b = TreeBuilder::default();
        parse_json_events(doc.as_bytes(), &mut b).unwrap();
        assert!(b.reports.len() >= 2, "{:?}", b.reports);
    }

    #[test]
    fn json_reports_progress_on_large_documents() {
        let doc = format!("[{}0]", "1234567,".repeat(PROGRESS_STEP / 8 * 3));
        let mut b = TreeBuilder::default();
        parse_json(doc.as_bytes(), &mut b).unwrap();
        assert!(b.reports.len() >= 2, "{:?}", b.reports);
    }

    #[test]
    fn toml_values_and_datetimes() {
        let doc = "a = 1\nb = 1979-05-27T07:32:00.1234567Z\nc = 1979-05-27\nd = 07:32:00\n\
                   e = 1979-05-27T00:32:00-07:30\n[t]\nx = [1.5, \"s\"]\n";
        let v = parse_toml(doc.as_bytes(), &mut TreeBuilder::default()).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert!(matches!(
            v.get("b"),
            Some(Value::Temporal(Temporal::DateTime {
                microsecond: 123456,
                offset_minutes: Some(0),
                utc: true,
                ..
            }))
        ));
        assert!(matches!(
            v.get("c"),
            Some(Value::Temporal(Temporal::Date { day: 27, .. }))
        ));
        assert!(matches!(
            v.get("d"),
            Some(Value::Temporal(Temporal::Time { hour: 7, .. }))
        ));
        assert!(matches!(
            v.get("e"),
            Some(Value::Temporal(Temporal::DateTime {
                offset_minutes: Some(-450),
                utc: false,
                ..
            }))
        ));
        assert!(matches!(
            parse_toml(b"a = 1\na = 2", &mut TreeBuilder::default()),
            Err(ParseError::Syntax(_))
        ));
        match parse_toml(b"a = 1e400", &mut TreeBuilder::default()) {
            Err(ParseError::Syntax(e)) => assert!(e.reference_decides, "{e:?}"),
            other => panic!("{other:?}"),
        }
        // TOML 1.1-only syntax is rejected, as tomllib (TOML 1.0) rejects it.
        assert!(parse_toml(b"a = {x = 1,\n}", &mut TreeBuilder::default()).is_err());
    }

    #[test]
    fn yaml_values() {
        let doc = "a: 1\nb: [1.5, .inf, 'x', true, null, 123456789012345678901234]\nc: {d: e}\n";
        let v = parse_yaml(doc.as_bytes(), &mut TreeBuilder::default()).unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert_eq!(
            v.get("b"),
            Some(&Value::List(vec![
                Value::Float(1.5),
                Value::Float(f64::INFINITY),
                s("x"),
                Value::Bool(true),
                Value::Null,
                Value::BigInt("123456789012345678901234".into()),
            ]))
        );
        assert_eq!(
            parse_yaml(b"", &mut TreeBuilder::default()).unwrap(),
            Value::Null
        );
        assert!(parse_yaml(b"a: [1\n", &mut TreeBuilder::default()).is_err());
        assert!(parse_yaml(b"a\n---\nb\n", &mut TreeBuilder::default()).is_err());
        assert!(parse_yaml(b"a: \x00", &mut TreeBuilder::default()).is_err());
    }

    #[test]
    fn yaml_plain_scalars_resolve_as_yaml_1_1() {
        let one = |text: &str| {
            let doc = format!("[{text}]");
            match parse_yaml(doc.as_bytes(), &mut TreeBuilder::default()) {
                Ok(Value::List(items)) if items.len() == 1 => Some(items[0].clone()),
                _ => None,
            }
        };
        for (text, want) in [
            ("yes", Value::Bool(true)),
            ("Off", Value::Bool(false)),
            ("oFF", s("oFF")),
            ("y", s("y")),
            ("Null", Value::Null),
            ("010", Value::Int(8)),
            ("08", s("08")),
            ("0o17", s("0o17")),
            ("-0b11", Value::Int(-3)),
            ("0x1_F", Value::Int(31)),
            ("1_000", Value::Int(1000)),
            ("1e3", s("1e3")),
            ("1.e+5", Value::Float(100000.0)),
            ("+.5", s("+.5")),
            ("-.Inf", Value::Float(f64::NEG_INFINITY)),
        ] {
            assert_eq!(one(text), Some(want), "{text}");
        }
        let decides = |doc: &str| {
            matches!(
                parse_yaml(doc.as_bytes(), &mut TreeBuilder::default()),
                Err(ParseError::Syntax(e)) if e.reference_decides
            )
        };
        for doc in [
            "a: 2001-12-14",
            "a: 1:20",
            "<<: {b: 1}",
            "a: =",
            "a: 0b_",
            "a: !!str 3",
            "[!]",
            "a: !x y",
            ": x",
            "- :",
            "[a -]",
            "a: [1",
            "[a:]",
            "{a:}",
            "[a :]",
            "[yes, 0:]",
            "{k: :0}",
            "a: |\n  x",
            "a: |+\n",
            "? \n  |\n  x",
            "...\na: 1",
            "- \tx",
            "&k: v",
            "a: [&x:1]",
            "{?b: }",
            "[a, |]",
        ] {
            assert!(decides(doc), "{doc}");
        }
        assert!(!decides("a: no"));
        assert!(!decides("a: |\n  x\nb: 1\n"));
        assert!(!decides("a: &x-1 [1]\nb: *x-1\n"));
    }

    #[test]
    fn yaml_aliases_are_shared_and_budgeted() {
        let yaml = |doc: &str| parse_yaml(doc.as_bytes(), &mut TreeBuilder::default());
        let v = yaml("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(v.get("a"), v.get("b"));
        // 9 levels of 9 aliases: 9**9 nodes expanded, refused before anything is built.
        let mut lol = "l0: &l0 [\"lol\"]\n".to_owned();
        for i in 1..10 {
            let aliases = vec![format!("*l{}", i - 1); 9].join(", ");
            lol.push_str(&format!("l{i}: &l{i} [{aliases}]\n"));
        }
        assert!(matches!(yaml(&lol), Err(ParseError::Syntax(e)) if e.message.contains("aliases")));
        // Within the floor: the alias expansion of 4**4 nodes is fine.
        let mut small = "l0: &l0 [\"lol\"]\n".to_owned();
        for i in 1..5 {
            let aliases = vec![format!("*l{}", i - 1); 4].join(", ");
            small.push_str(&format!("l{i}: &l{i} [{aliases}]\n"));
        }
        assert!(yaml(&small).is_ok());
        for recursive in ["a: &x [*x]\n", "a: &x {b: [*x]}\n"] {
            assert!(
                matches!(yaml(recursive), Err(ParseError::Syntax(e)) if e.message.contains("recursive"))
            );
        }
        assert_eq!(yaml_alias_budget(0), YAML_ALIAS_NODES_FLOOR);
        assert_eq!(yaml_alias_budget(usize::MAX), YAML_ALIAS_NODES_CAP);
    }

    #[test]
    fn yaml_depth_counts_expanded_aliases() {
        let yaml = |doc: &str| parse_yaml(doc.as_bytes(), &mut TreeBuilder::default());
        let nest = |d: usize| "[".repeat(d) + &"]".repeat(d);
        assert!(yaml(&nest(YAML_MAX_DEPTH)).is_ok());
        assert!(yaml(&nest(YAML_MAX_DEPTH + 1)).is_err());
        let half = YAML_MAX_DEPTH / 2 + 1;
        let doc = format!(
            "a: &a {}\nb: {}*a{}",
            nest(half),
            "[".repeat(half),
            "]".repeat(half)
        );
        assert!(matches!(yaml(&doc), Err(ParseError::Syntax(e)) if e.message.contains("nesting")));
        assert!(yaml("\u{feff}\u{feff}a: 1").is_ok());
    }

    #[test]
    fn merge_is_recursive_and_replaces_lists() {
        let mut base = json(r#"{"a": {"x": 1, "l": [1, 2]}, "b": 1}"#).unwrap();
        deep_merge(
            &mut base,
            json(r#"{"a": {"y": 2, "l": [3]}, "b": {"c": 1}}"#).unwrap(),
        );
        assert_eq!(
            base,
            json(r#"{"a": {"x": 1, "l": [3], "y": 2}, "b": {"c": 1}}"#).unwrap()
        );
    }
}
