//! TOML 1.0 documents straight from `toml_parser`'s events to a [`Builder`].
//!
//! `toml::de::DeTable::parse` lexes the text, parses the tokens into events, then walks the
//! events into a tree of `Spanned<DeValue>` (an `IndexMap` per table, a `Cow` per string,
//! spans everywhere) that [`super`] used to walk a second time into Python objects. Here the
//! same lexer, parser and whitespace/recursion checks produce the events, and one walk turns
//! them into builder values: scalars, arrays and inline tables are built on the spot;
//! `[tables]` and `[[arrays of tables]]` (which later headers and dotted keys may still
//! extend) are kept as light nodes until the end of the document, then built bottom-up with
//! their sizes known.
//!
//! The walk is a port of the toml 0.9.8 crate's `de::parser` (`document.rs`, `key.rs`,
//! `value.rs`, `array.rs`, `inline_table.rs`), keeping every check it makes: duplicate keys,
//! table redefinition by a header or a dotted key, dotted keys into inline tables or arrays,
//! arrays of tables, the key depth limit, and the scalar decoding errors. Where the crate
//! and tomllib (the reference) disagree, tomllib wins: a dotted key may extend a table that
//! a header only implied (`[a.b.c]`, `[a]`, `b.d = 1`), and may not pass through an array of
//! tables (`[[a.b]]`, `[a]`, `b.c = 1`); a table reopened by a header keeps its first
//! position. Otherwise a document is accepted here exactly when `DeTable::parse` accepts it
//! and gives the same values (the tests compare the two), and tests/test_config_core.py
//! compares random table layouts with tomllib itself.

use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use toml_parser::decoder::ScalarKind;
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace};
use toml_parser::{ParseError as TomlError, Source};

use super::{Builder, ParseError, SyntaxError, Temporal};

/// Nesting limit of inline tables and arrays, and of dotted keys: the toml crate's (its
/// default, non-`unbounded` build).
const LIMIT: u32 = 80;

/// Deepest nesting of tables and arrays in a document's value, the root table counting 1
/// (`pyagent.config_core.TOML_MAX_DEPTH`). Within it the crate's guards above never fire: a
/// value nested [`LIMIT`] deep, or a key of more than [`LIMIT`] parts, is deeper than this.
pub const MAX_DEPTH: usize = 80;

/// Entries a table holds before its keys are indexed in a hash map (a linear scan below).
const INDEX_FROM: usize = 12;

/// Lexed and parsed TOML: the parser's events over `source`, checked for syntax errors.
pub struct TomlEvents<'i> {
    source: Source<'i>,
    events: Vec<Event>,
    /// Bytes of BOM before `source` (error offsets are in the caller's data).
    shift: usize,
}

fn syntax(shift: usize, error: &TomlError) -> SyntaxError {
    SyntaxError {
        offset: shift + error.unexpected().map_or(0, |s| s.start()),
        message: error.description().to_owned(),
        reference_decides: false,
    }
}

/// Lexes and parses `text` (BOM already removed, `shift` its length) into events; the
/// first syntax error the lexer, parser or whitespace check reports fails it.
pub fn toml_events(text: &str, shift: usize) -> Result<TomlEvents<'_>, SyntaxError> {
    let source = Source::new(text);
    let mut tokens = Vec::new();
    let mut events = Vec::new();
    // The lexer's own `into_vec` reserves one token per input byte; a token is 24 bytes and
    // a config averages about four bytes per token (3.9 for the benchmark's), so a third of
    // that is reserved instead (the vector grows if needed).
    tokens.reserve(text.len() / 3 + 16);
    tokens.extend(source.lex());
    events.reserve(tokens.len());
    let mut errors: Option<TomlError> = None;
    {
        let mut receiver = ValidateWhitespace::new(&mut events, source);
        let mut receiver = RecursionGuard::new(&mut receiver, LIMIT);
        toml_parser::parser::parse_document(&tokens, &mut receiver, &mut errors);
    }
    drop(tokens);
    let parsed = TomlEvents {
        source,
        events,
        shift,
    };
    match errors {
        Some(error) => Err(syntax(shift, &error)),
        None => Ok(parsed),
    }
}

/// A table entry's value.
enum Item<V> {
    /// Built already: a scalar, an array or an inline table (none can be extended), with
    /// its nesting height (0 for a scalar).
    Value(V, usize),
    /// A `[table]`, an implicit table (a header's or dotted key's parent) or a table made by
    /// a dotted key: extended until the end of the document (or of its inline table).
    Table(usize),
    /// An array of tables, by node.
    Tables(Vec<usize>),
}

/// A table still open to extension.
struct Node<'i, V> {
    keys: Vec<Cow<'i, str>>,
    items: Vec<Item<V>>,
    /// Key -> position, once the table has [`INDEX_FROM`] entries.
    index: Option<HashMap<Cow<'i, str>, usize, FxBuildHasher>>,
    implicit: bool,
    dotted: bool,
    inline: bool,
}

impl<'i, V> Node<'i, V> {
    fn new(implicit: bool, dotted: bool, inline: bool) -> Self {
        Node {
            keys: Vec::new(),
            items: Vec::new(),
            index: None,
            implicit,
            dotted,
            inline,
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.keys.iter().position(|k| k == key),
        }
    }

    fn push(&mut self, key: Cow<'i, str>, item: Item<V>) -> usize {
        let at = self.keys.len();
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), at);
        } else if at + 1 >= INDEX_FROM {
            let mut index = HashMap::with_capacity_and_hasher(2 * INDEX_FROM, FxBuildHasher);
            for (i, k) in self.keys.iter().enumerate() {
                index.insert(k.clone(), i);
            }
            index.insert(key.clone(), at);
            self.index = Some(index);
        }
        self.keys.push(key);
        self.items.push(item);
        at
    }
}

/// A decoded key with the byte span it came from.
struct Key<'i> {
    text: Cow<'i, str>,
    start: usize,
}

/// What stops the walk: a syntax error (as the crate would report it) or the builder's.
enum Stop<E> {
    Syntax(usize, String),
    Number(usize, &'static str),
    Build(E),
}

type Step<T, E> = Result<T, Stop<E>>;

fn duplicate<T, E>(key: &Key<'_>) -> Step<T, E> {
    Err(Stop::Syntax(key.start, "duplicate key".to_owned()))
}

fn cannot_extend<T, E>(key: &Key<'_>, what: &str) -> Step<T, E> {
    Err(Stop::Syntax(
        key.start,
        format!("cannot extend value of type {what} with a dotted key"),
    ))
}

struct Walk<'e, 'i, 'b, B: Builder> {
    events: &'e [Event],
    pos: usize,
    source: Source<'i>,
    b: &'b mut B,
    nodes: Vec<Node<'i, B::Value>>,
    /// Items of the arrays being built, and entries of the maps being built (shared stacks).
    items: Vec<B::Value>,
    entries: Vec<(B::Value, B::Value)>,
    /// Nesting height of the value built last (0 for a scalar, 1 for `[]` or `{}`).
    height: usize,
}

impl<'i, B: Builder> Walk<'_, 'i, '_, B> {
    fn next(&mut self) -> Option<Event> {
        let event = self.events.get(self.pos).copied();
        self.pos += 1;
        event
    }

    fn peek_kind(&self, ahead: usize) -> Option<EventKind> {
        self.events.get(self.pos + ahead).map(Event::kind)
    }

    fn new_node(&mut self, implicit: bool, dotted: bool, inline: bool) -> usize {
        self.nodes.push(Node::new(implicit, dotted, inline));
        self.nodes.len() - 1
    }

    fn decode_key(&self, event: &Event) -> Step<Key<'i>, B::Error> {
        let start = event.span().start();
        let Some(raw) = self.source.get(event) else {
            return Err(Stop::Syntax(start, "invalid key".to_owned()));
        };
        let mut text = Cow::Borrowed("");
        let mut error: Option<TomlError> = None;
        raw.decode_key(&mut text, &mut error);
        match error {
            Some(e) => Err(Stop::Syntax(start, e.description().to_owned())),
            None => Ok(Key { text, start }),
        }
    }

    /// `key.rs::on_key`: a simple or dotted key starting at `first`; the path before the
    /// last part, and the last part.
    fn on_key(&mut self, first: &Event) -> Step<(Vec<Key<'i>>, Key<'i>), B::Error> {
        // The usual key is one part: no path, nothing allocated.
        if !self.more_key() {
            return Ok((Vec::new(), self.decode_key(first)?));
        }
        let mut path = Vec::new();
        let mut current = Some(*first);
        let mut last: Option<Key<'i>> = None;
        while let Some(event) = self.next() {
            match event.kind() {
                EventKind::SimpleKey => {
                    current = Some(event);
                    if !self.more_key() {
                        break;
                    }
                }
                EventKind::Whitespace => {}
                EventKind::KeySep => self.close_key(&mut current, &mut path, &mut last)?,
                _ => continue,
            }
        }
        self.close_key(&mut current, &mut path, &mut last)?;
        if LIMIT as usize <= path.len() {
            return Err(Stop::Syntax(
                first.span().start(),
                "recursion limit".to_owned(),
            ));
        }
        match last {
            Some(key) => Ok((path, key)),
            None => Err(Stop::Syntax(first.span().start(), "invalid key".to_owned())),
        }
    }

    /// `key.rs::State::close_key`: the key part in `current` becomes the last one.
    fn close_key(
        &self,
        current: &mut Option<Event>,
        path: &mut Vec<Key<'i>>,
        last: &mut Option<Key<'i>>,
    ) -> Step<(), B::Error> {
        if let Some(event) = current.take() {
            let key = self.decode_key(&event)?;
            if let Some(previous) = last.replace(key) {
                path.push(previous);
            }
        }
        Ok(())
    }

    fn more_key(&self) -> bool {
        match self.peek_kind(0) {
            Some(EventKind::KeySep) => true,
            Some(EventKind::Whitespace) => self.peek_kind(1) == Some(EventKind::KeySep),
            _ => false,
        }
    }

    /// `value.rs::value`.
    fn value(&mut self) -> Step<B::Value, B::Error> {
        let event = self.next();
        match event.map(|e| (e.kind(), e)) {
            Some((EventKind::InlineTableOpen, _)) => self.on_inline_table(),
            Some((EventKind::ArrayOpen, _)) => self.on_array(),
            Some((EventKind::Scalar, e)) => self.on_scalar(&e),
            Some((_, e)) => Err(Stop::Syntax(e.span().start(), "expected value".to_owned())),
            None => Err(Stop::Syntax(
                self.source.input().len(),
                "expected value".to_owned(),
            )),
        }
    }

    /// `value.rs::on_scalar`, then the number or datetime read as the Python reference has it.
    fn on_scalar(&mut self, event: &Event) -> Step<B::Value, B::Error> {
        self.height = 0;
        let start = event.span().start();
        let Some(raw) = self.source.get(event) else {
            return Err(Stop::Syntax(start, "invalid value".to_owned()));
        };
        let mut decoded = Cow::Borrowed("");
        let mut error: Option<TomlError> = None;
        let kind = raw.decode_scalar(&mut decoded, &mut error);
        if let Some(e) = error {
            return Err(Stop::Syntax(start, e.description().to_owned()));
        }
        let built = match kind {
            ScalarKind::String => self.b.string(&decoded),
            ScalarKind::Boolean(v) => self.b.boolean(v),
            ScalarKind::DateTime => match decoded.parse::<toml_datetime::Datetime>() {
                Ok(dt) => self.b.temporal(temporal(&dt)),
                Err(e) => return Err(Stop::Syntax(start, e.to_string())),
            },
            ScalarKind::Float => match decoded.parse::<f64>() {
                Ok(v) if !v.is_infinite() || decoded.contains("inf") => self.b.float(v),
                _ => return Err(Stop::Number(start, "floating-point number")),
            },
            ScalarKind::Integer(radix) => match i64::from_str_radix(&decoded, radix.value()) {
                Ok(v) => self.b.int(v),
                Err(_) => return Err(Stop::Number(start, "integer")),
            },
        };
        built.map_err(Stop::Build)
    }

    /// `array.rs::on_array`, after the opening bracket.
    fn on_array(&mut self) -> Step<B::Value, B::Error> {
        let start = self.items.len();
        let mut height = 0;
        while let Some(event) = self.next() {
            let value = match event.kind() {
                EventKind::InlineTableOpen => self.on_inline_table()?,
                EventKind::ArrayOpen => self.on_array()?,
                EventKind::Scalar => self.on_scalar(&event)?,
                EventKind::ArrayClose => break,
                EventKind::StdTableOpen
                | EventKind::ArrayTableOpen
                | EventKind::InlineTableClose
                | EventKind::SimpleKey
                | EventKind::KeySep
                | EventKind::KeyValSep
                | EventKind::StdTableClose
                | EventKind::ArrayTableClose => break,
                _ => continue,
            };
            height = height.max(self.height);
            self.items.push(value);
        }
        self.height = height + 1;
        let items = self.items.drain(start..);
        self.b.list_from(items).map_err(Stop::Build)
    }

    /// `inline_table.rs::on_inline_table`, after the opening brace: a node of its own
    /// (dotted keys inside make subtables), built when it closes.
    fn on_inline_table(&mut self) -> Step<B::Value, B::Error> {
        let table = self.new_node(false, false, true);
        let mut current: Option<(Vec<Key<'i>>, Key<'i>)> = None;
        let mut value: Option<B::Value> = None;
        while let Some(event) = self.next() {
            match event.kind() {
                EventKind::SimpleKey => current = Some(self.on_key(&event)?),
                EventKind::InlineTableOpen => value = Some(self.on_inline_table()?),
                EventKind::ArrayOpen => value = Some(self.on_array()?),
                EventKind::Scalar => value = Some(self.on_scalar(&event)?),
                EventKind::ValueSep => {
                    self.inline_keyval(table, current.take(), value.take())?;
                }
                EventKind::InlineTableClose => {
                    self.inline_keyval(table, current.take(), value.take())?;
                    break;
                }
                EventKind::StdTableOpen
                | EventKind::ArrayTableOpen
                | EventKind::StdTableClose
                | EventKind::ArrayClose
                | EventKind::ArrayTableClose
                | EventKind::KeySep => break,
                _ => continue,
            }
        }
        let built = self.build(table);
        // The node (and any subtables after it) is done: release it for reuse.
        self.nodes.truncate(table);
        built
    }

    /// `inline_table.rs::State::finish_value`.
    fn inline_keyval(
        &mut self,
        table: usize,
        key: Option<(Vec<Key<'i>>, Key<'i>)>,
        value: Option<B::Value>,
    ) -> Step<(), B::Error> {
        let (Some((path, key)), Some(value)) = (key, value) else {
            return Ok(());
        };
        let mut node = table;
        for part in &path {
            node = match self.nodes[node].find(&part.text) {
                None => {
                    let child = self.new_node(true, true, true);
                    self.nodes[node].push(part.text.clone(), Item::Table(child));
                    child
                }
                Some(at) => match self.nodes[node].items[at] {
                    Item::Table(child) => {
                        if !self.nodes[child].implicit {
                            return duplicate(part);
                        }
                        child
                    }
                    Item::Tables(_) => return cannot_extend(part, "array"),
                    Item::Value(..) => return duplicate(part),
                },
            };
        }
        self.put_value(node, !path.is_empty(), key, value)
    }

    /// `document.rs::descend_path`: the table `path` leads to from `node`, creating implicit
    /// tables (dotted ones for a dotted key) on the way.
    fn descend(
        &mut self,
        mut node: usize,
        path: &[Key<'i>],
        dotted: bool,
    ) -> Step<usize, B::Error> {
        for part in path {
            node = match self.nodes[node].find(&part.text) {
                None => {
                    let child = self.new_node(true, dotted, false);
                    self.nodes[node].push(part.text.clone(), Item::Table(child));
                    child
                }
                Some(at) => match &self.nodes[node].items[at] {
                    // tomllib: an array of tables is a namespace a dotted key cannot enter
                    // (the toml crate lets it extend the last table).
                    Item::Tables(_) if dotted => return cannot_extend(part, "array"),
                    Item::Tables(tables) => match tables.last() {
                        Some(&last) => last,
                        None => return cannot_extend(part, "array"),
                    },
                    Item::Table(child) => {
                        let child = *child;
                        let c = &self.nodes[child];
                        if c.inline {
                            return cannot_extend(part, "inline table");
                        }
                        if dotted && !c.implicit {
                            return duplicate(part);
                        }
                        if dotted {
                            // tomllib: a dotted key may extend a table a header only implied
                            // (`[a.b.c]`, `[a]`, `b.d = 1`), which the toml crate refuses;
                            // the table then counts as made by dotted keys, so no later
                            // `[a.b]` header may define it.
                            self.nodes[child].dotted = true;
                        }
                        child
                    }
                    Item::Value(..) => return cannot_extend(part, "value"),
                },
            };
        }
        Ok(node)
    }

    /// `document.rs::document`.
    fn document(&mut self) -> Step<usize, B::Error> {
        let root = self.new_node(false, false, false);
        let mut current = root;
        while let Some(event) = self.next() {
            match event.kind() {
                EventKind::StdTableOpen | EventKind::ArrayTableOpen => {
                    let is_array = event.kind() == EventKind::ArrayTableOpen;
                    current = self.on_table(root, &event, is_array)?;
                }
                EventKind::SimpleKey => {
                    let (path, key) = self.on_key(&event)?;
                    let Some(next) = self.next() else { break };
                    let separator = if next.kind() == EventKind::Whitespace {
                        match self.next() {
                            Some(next) => next,
                            None => break,
                        }
                    } else {
                        next
                    };
                    if separator.kind() != EventKind::KeyValSep {
                        break;
                    }
                    if self.peek_kind(0) == Some(EventKind::Whitespace) {
                        self.pos += 1;
                    }
                    let value = self.value()?;
                    self.keyval(current, path, key, value)?;
                }
                _ => continue,
            }
        }
        Ok(root)
    }

    /// `document.rs::State::capture_key_value`.
    fn keyval(
        &mut self,
        current: usize,
        path: Vec<Key<'i>>,
        key: Key<'i>,
        value: B::Value,
    ) -> Step<(), B::Error> {
        let parent = self.descend(current, &path, true)?;
        self.put_value(parent, !path.is_empty(), key, value)
    }

    /// Adds `key = value` to the table `node` a key's path led to (`dotted`: through a
    /// dotted key). "Likewise, using dotted keys to redefine tables already defined in
    /// [table] form is not allowed": a dotted key must land in a table dotted keys made, a
    /// plain key in one that they did not.
    fn put_value(
        &mut self,
        node: usize,
        dotted: bool,
        key: Key<'i>,
        value: B::Value,
    ) -> Step<(), B::Error> {
        if self.nodes[node].dotted != dotted || self.nodes[node].find(&key.text).is_some() {
            return duplicate(&key);
        }
        let height = self.height;
        self.nodes[node].push(key.text, Item::Value(value, height));
        Ok(())
    }

    /// `document.rs::on_table` and `State::start_table`: the header's table, now current.
    /// The crate fills a detached table and inserts it when the next header starts; it is
    /// inserted here at once (nothing can reach it meanwhile but the keys below its header),
    /// with the same checks.
    fn on_table(&mut self, root: usize, open: &Event, is_array: bool) -> Step<usize, B::Error> {
        let mut header: Option<(Vec<Key<'i>>, Key<'i>)> = None;
        while let Some(event) = self.next() {
            match event.kind() {
                EventKind::ArrayTableClose | EventKind::StdTableClose => break,
                EventKind::SimpleKey => header = Some(self.on_key(&event)?),
                _ => continue,
            }
        }
        let Some((path, key)) = header else {
            return Err(Stop::Syntax(
                open.span().start(),
                "invalid table header".to_owned(),
            ));
        };
        let parent = self.descend(root, &path, false)?;
        let existing = self.nodes[parent].find(&key.text);
        if is_array {
            let table = self.new_node(false, false, false);
            match existing {
                None => {
                    self.nodes[parent].push(key.text, Item::Tables(vec![table]));
                }
                Some(at) => match &mut self.nodes[parent].items[at] {
                    Item::Tables(tables) => tables.push(table),
                    _ => return duplicate(&key),
                },
            }
            return Ok(table);
        }
        match existing {
            None => {
                let table = self.new_node(false, false, false);
                self.nodes[parent].push(key.text, Item::Table(table));
                Ok(table)
            }
            Some(at) => match self.nodes[parent].items[at] {
                Item::Table(table) if self.nodes[table].implicit && !self.nodes[table].dotted => {
                    let node = &mut self.nodes[table];
                    node.implicit = false;
                    node.dotted = false;
                    Ok(table)
                }
                _ => duplicate(&key),
            },
        }
    }

    /// The builder value of table `node` and every table under it.
    fn build(&mut self, node: usize) -> Step<B::Value, B::Error> {
        let keys = std::mem::take(&mut self.nodes[node].keys);
        let items = std::mem::take(&mut self.nodes[node].items);
        let start = self.entries.len();
        let mut height = 0;
        for (key, item) in keys.iter().zip(items) {
            let k = self.b.key(key).map_err(Stop::Build)?;
            let v = match item {
                Item::Value(v, h) => {
                    height = height.max(h);
                    v
                }
                Item::Table(child) => {
                    let table = self.build(child)?;
                    height = height.max(self.height);
                    table
                }
                Item::Tables(children) => {
                    let first = self.items.len();
                    let mut tables_height = 0;
                    for child in children {
                        let table = self.build(child)?;
                        tables_height = tables_height.max(self.height);
                        self.items.push(table);
                    }
                    height = height.max(tables_height + 1);
                    let tables = self.items.drain(first..);
                    self.b.list_from(tables).map_err(Stop::Build)?
                }
            };
            self.entries.push((k, v));
        }
        self.height = height + 1;
        let entries = self.entries.drain(start..);
        self.b.map_from(entries).map_err(Stop::Build)
    }
}

/// Builds the document of `parsed`; a number out of the crate's range is a [`SyntaxError`]
/// the reference parser decides.
pub fn build<B: Builder>(
    parsed: &TomlEvents<'_>,
    builder: &mut B,
) -> Result<B::Value, ParseError<B::Error>> {
    let mut walk = Walk {
        events: &parsed.events[..],
        pos: 0,
        source: parsed.source,
        b: builder,
        nodes: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        height: 0,
    };
    let shift = parsed.shift;
    let built = walk.document().and_then(|root| walk.build(root));
    let built = match built {
        Ok(_) if walk.height > MAX_DEPTH => Err(Stop::Syntax(0, "nesting too deep".to_owned())),
        other => other,
    };
    built.map_err(|stop| match stop {
        Stop::Build(e) => ParseError::Build(e),
        Stop::Syntax(offset, message) => ParseError::Syntax(SyntaxError {
            offset: shift + offset,
            message,
            reference_decides: false,
        }),
        // A number the crate's types cannot hold, which tomllib reads (integers of any
        // size, a float overflowing to inf): the reference parser decides.
        Stop::Number(offset, what) => ParseError::Syntax(SyntaxError {
            offset: shift + offset,
            message: format!("{what} out of range"),
            reference_decides: true,
        }),
    })
}

fn temporal(dt: &toml_datetime::Datetime) -> Temporal {
    use toml_datetime::Offset;
    // tomllib keeps the first six fractional digits: truncation to microseconds.
    let micro = |t: &toml_datetime::Time| t.nanosecond / 1000;
    match (dt.date, dt.time) {
        (Some(d), Some(t)) => Temporal::DateTime {
            year: d.year,
            month: d.month,
            day: d.day,
            hour: t.hour,
            minute: t.minute,
            second: t.second,
            microsecond: micro(&t),
            offset_minutes: match dt.offset {
                None => None,
                Some(Offset::Z) => Some(0),
                Some(Offset::Custom { minutes }) => Some(minutes),
            },
            utc: matches!(dt.offset, Some(Offset::Z)),
        },
        (Some(d), None) => Temporal::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        },
        (None, Some(t)) => Temporal::Time {
            hour: t.hour,
            minute: t.minute,
            second: t.second,
            microsecond: micro(&t),
        },
        // The crate never produces a datetime with neither part; treat it as midnight.
        (None, None) => Temporal::Time {
            hour: 0,
            minute: 0,
            second: 0,
            microsecond: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_toml, TreeBuilder, Value};
    use super::*;

    /// The toml crate's reading of `text` (`DeTable::parse`, which this module replaces):
    /// None when it rejects the document.
    fn oracle(text: &str) -> Option<Value> {
        fn value(v: &toml::de::DeValue<'_>) -> Value {
            use toml::de::DeValue;
            match v {
                DeValue::String(s) => Value::String(s.to_string()),
                DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(i) => Value::Int(i),
                    Err(_) => Value::BigInt(i.as_str().to_owned()),
                },
                DeValue::Float(f) => Value::Float(f.as_str().parse().unwrap_or(f64::NAN)),
                DeValue::Boolean(b) => Value::Bool(*b),
                DeValue::Datetime(dt) => Value::Temporal(temporal(dt)),
                DeValue::Array(items) => {
                    Value::List(items.iter().map(|v| value(v.get_ref())).collect())
                }
                DeValue::Table(t) => table(t),
            }
        }
        fn table(t: &toml::de::DeTable<'_>) -> Value {
            Value::Map(
                t.iter()
                    .map(|(k, v)| (Value::String(k.get_ref().to_string()), value(v.get_ref())))
                    .collect(),
            )
        }
        toml::de::DeTable::parse(text)
            .ok()
            .map(|t| table(t.get_ref()))
    }

    /// Maps with their entries sorted by key (a reopened table's position differs).
    fn sorted(v: Value) -> Value {
        match v {
            Value::Map(entries) => {
                let mut entries: Vec<_> = entries
                    .into_iter()
                    .map(|(k, v)| (format!("{k:?}"), k, sorted(v)))
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(entries.into_iter().map(|(_, k, v)| (k, v)).collect())
            }
            Value::List(items) => Value::List(items.into_iter().map(sorted).collect()),
            other => other,
        }
    }

    fn same_as_crate(text: &str) {
        let ours = match parse_toml(text.as_bytes(), &mut TreeBuilder::default()) {
            Ok(v) => Some(sorted(v)),
            Err(ParseError::Syntax(e)) if e.reference_decides => return,
            Err(_) => None,
        };
        let theirs = oracle(text).map(sorted);
        assert_eq!(ours, theirs, "document:\n{text}");
    }

    const DOCUMENTS: &[&str] = &[
        "",
        "a = 1",
        "a = 1\na = 2",
        "a = 1\nb = 'x'\nc = \"\\u00e9\\n\"\nd = '''\nml'''\ne = \"\"\"\\\n  x\"\"\"",
        "a.b.c = 1\na.b.d = 2\na.e = 3",
        "a.b = 1\na = 2",
        "a = 2\na.b = 1",
        "a.b = 1\n[a]\nc = 2",
        "a.b = 1\n[a.b]\nc = 2",
        "a.b = 1\n[a.c]\nc = 2",
        "[a]\nb.c = 1\n[a.b]",
        "[a]\nb.c = 1\n[a.b.d]",
        "[a.b]\nx = 1\n[a]\ny = 2",
        "[a.b]\nx = 1\n[a]\nb.z = 2",
        "[a.b.c]\n[a]\nb.d = 1",
        "[a]\n[a]",
        "[a]\nx = 1\n[a.x]",
        "[a]\nx = {}\n[a.x]",
        "[a]\nx = {y = 1}\n[a.x.z]",
        "[a]\nx = [1]\n[a.x.z]",
        "[[a]]\nx = 1\n[[a]]\nx = 2\n[a.b]\ny = 3",
        "[[a]]\n[a]",
        "[a]\n[[a]]",
        "a = []\n[[a]]",
        "a = [{b = 1}]\n[[a]]",
        "[[a.b]]\n[a]\n[[a.b]]",
        "[[a]]\n[[a.b]]\nx = 1\n[[a.b]]\nx = 2\n[[a]]\n[[a.b]]",
        "[[a]]\nb.c = 1\n[a.b]",
        "[[a]]\n[a.b]\n[a.b]",
        "[[a]]\n[a.b]\n[[a]]\n[a.b]",
        "a = {b = 1, c.d = 2, c.e = 3}",
        "a = {b = 1, b = 2}",
        "a = {b.c = 1, b = 2}",
        "a = {b = 1, b.c = 2}",
        "a = {b = {c = 1}, b.d = 2}",
        "a = {b.c = 1, b.c.d = 2}",
        "a = {}\na.b = 1",
        "a = {b = 1}\n[a.c]",
        "a = {b = 1}\n[a]",
        "a = [1, [2, [3]], {x = [{}]}]",
        "a = [\n 1,\n 2, # c\n]",
        "a = [1,,2]",
        "a = {x = 1,}",
        "a = {x = 1,\n y = 2}",
        "a = 0x_1",
        "a = 0xdead_beef\nb = 0o17\nc = 0b101\nd = +1_000\ne = -0\nf = 1__0",
        "a = 01",
        "a = 1.0\nb = -1e-3\nc = inf\nd = -nan\ne = 1.\nf = .5\ng = 1e_3\nh = 6.02e+23",
        "a = 99999999999999999999",
        "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.999999999+05:45\nc = 07:32\nd = 1979-02-30",
        "a = 1979-05-27T25:32:00",
        "a = 1979-05-27T07:32:00.Z",
        "a = true\nb = false\nc = True",
        "\"a.b\" = 1\n'c d'.e = 2\n[\"x y\".'z']\nw = 3",
        "a.\"\".b = 1\n\"\" = 2",
        "[a]\n[\"a\"]",
        "a = \"\\x41\"",
        "a = \"tab\there\"",
        "a = \"ctl\u{1}\"",
        "# comment \u{7f}\na = 1",
        "a = 1 # ok\n\n\r\nb = 2\r\n",
        "a = 1\rb = 2",
        "[ a . b ]\nc = 1",
        "[a]]\n",
        "[[a]\n",
        "a = [[1], ['x']]",
        "key = # no value\n",
        "= 1",
        "a = 1 b = 2",
        "a=1\n[b]\na=1\n[c.d]\na=1\n[b.e]\na=1\n[c]\na=1",
        "x.y.z.w = 1\nx.y.a = 2\n[x.y.b]\n[x.q]",
        "[a.b]\n[a.b.c]\n[a]\nb.d = 1",
        "[[a]]\n[a.b]\nc = 1\n[a.b.d]\n[[a]]\nb.c = 2",
        "a = {b.c = 1}\n[a.b]",
    ];

    #[test]
    fn accepts_and_reads_what_the_toml_crate_does() {
        for doc in DOCUMENTS {
            if !tomllib_differs_from_the_crate(doc) {
                same_as_crate(doc);
            }
        }
    }

    #[test]
    fn follows_tomllib_where_the_crate_differs() {
        let accepts = |doc: &str| parse_toml(doc.as_bytes(), &mut TreeBuilder::default()).is_ok();
        // tomllib accepts these; the crate refuses the dotted key.
        for doc in [
            "[a.b.c]\n[a]\nb.d = 1",
            "[a.b.c]\n[a]\nb.d = 1\nb.e = 2",
            "[a.b.c]\n[a]\nb.d = 1\n[a.b.e]",
            "[a.b.c.d]\n[a]\nb.c.e = 1\n[a.b.c.d.f]",
        ] {
            assert!(accepts(doc), "{doc}");
        }
        // tomllib refuses these (the crate accepts the first).
        for doc in ["[[a.b]]\n[a]\nb.c = 1", "[a.b.c]\n[a]\nb.d = 1\n[a.b]"] {
            assert!(!accepts(doc), "{doc}");
        }
    }

    #[test]
    fn big_tables_use_the_index_and_still_find_duplicates() {
        let mut doc: String = (0..40).map(|i| format!("k{i} = {i}\n")).collect();
        same_as_crate(&doc);
        doc.push_str("k7 = 1\n");
        same_as_crate(&doc);
        let mut tables: String = (0..40).map(|i| format!("[t.s{i}]\nx = {i}\n")).collect();
        same_as_crate(&tables);
        tables.push_str("[t.s30]\n");
        same_as_crate(&tables);
    }

    #[test]
    fn random_table_layouts_match_the_crate() {
        // Lines that define, reopen and extend tables in every way the rules distinguish;
        // documents of 2 to 6 of them (a fixed-seed xorshift) cover their combinations.
        const LINES: &[&str] = &[
            "[a]",
            "[a.b]",
            "[a.b.c]",
            "[[a]]",
            "[[a.b]]",
            "[b]",
            "[[b]]",
            "[a.\"b\"]",
            "x = 1",
            "b = 2",
            "b.c = 3",
            "b.d = 4",
            "a.b = 5",
            "a.b.c = 6",
            "c = {d = 1}",
            "c.e = 2",
            "b = {c = 1}",
            "b = [1]",
            "b = [{c = 1}]",
            "d = {b.c = 1, b.d = 2}",
            "\"b\".c = 7",
            "a = 1979-05-27",
            "",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..4000 {
            let count = 2 + next(5);
            let doc: Vec<&str> = (0..count).map(|_| LINES[next(LINES.len())]).collect();
            let doc = doc.join("\n");
            if !tomllib_differs_from_the_crate(&doc) {
                same_as_crate(&doc);
            }
        }
    }

    /// Whether `doc` may hit one of the two rules where this module follows tomllib rather
    /// than the crate (module docs): a dotted key after a header, which may lead into a
    /// table a header implied or through an array of tables. Those documents are compared
    /// with tomllib itself, in Python (tests/test_config_core.py).
    fn tomllib_differs_from_the_crate(doc: &str) -> bool {
        let mut after_header = false;
        for line in doc.lines() {
            if line.starts_with('[') {
                after_header = true;
            } else if after_header {
                let key = line.split('=').next().unwrap_or("");
                if key.contains('.') {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn deep_keys_and_nesting_hit_the_depth_limit() {
        // Within MAX_DEPTH (the value's nesting, the root table counting 1) the crate
        // decides; beyond it the document is refused, whatever the crate says.
        let check = |doc: String, value_depth: usize| {
            if value_depth <= MAX_DEPTH {
                same_as_crate(&doc);
            } else {
                let parsed = parse_toml(doc.as_bytes(), &mut TreeBuilder::default());
                assert!(parsed.is_err(), "{doc}");
            }
        };
        for depth in [70, 78, 79, 80, 81, 100] {
            let key = vec!["k"; depth].join(".");
            check(format!("{key} = 1"), depth);
            check(format!("[{key}]"), depth + 1);
            let nested = "[".repeat(depth) + &"]".repeat(depth);
            check(format!("a = {nested}"), depth + 1);
            let inline = "{a = ".repeat(depth) + "1" + &"}".repeat(depth);
            check(format!("a = {inline}"), depth + 1);
        }
        // Depth adds up across a header, a dotted key and the value.
        check(
            format!(
                "[{}]\n{} = [[]]",
                vec!["h"; 40].join("."),
                vec!["k"; 38].join(".")
            ),
            80,
        );
        check(
            format!(
                "[{}]\n{} = [[]]",
                vec!["h"; 40].join("."),
                vec!["k"; 39].join(".")
            ),
            81,
        );
        check(format!("[[{}]]\nk = 1", vec!["h"; 78].join(".")), 80);
        check(format!("[[{}]]\nk = []", vec!["h"; 78].join(".")), 81);
    }
}
