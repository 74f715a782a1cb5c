//! Cyclomatic complexity of Python source by radon's rules (AnalysisCore).
//!
//! The source is parsed with Ruff's parser (`ruff_python_parser`: a real, hand-written
//! recursive-descent Python parser that grows its stack as it recurses), then walked like
//! radon 6's `ComplexityVisitor`; `pyagent/analysis_core.py` states the rules. The walk grows
//! its stack the same way, so no input can overflow the native stack.
//!
//! Where CPython 3.11's `ast.parse` refuses deep input, this refuses it the same way:
//! more than 200 nested brackets and more than 99 indentation levels are syntax errors
//! (CPython's tokenizer limits), and a tree nested deeper than [`MAX_DEPTH`] levels is
//! "too deep" (CPython raises RecursionError near 2,990 levels; the two limits can differ
//! by a few levels for some constructs).

use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::source_order::{self, SourceOrderVisitor};
use ruff_python_ast::{self as ast, Expr, PythonVersion, Stmt};
use ruff_python_parser::{parse_unchecked, LexicalErrorType, Mode, ParseErrorType, ParseOptions};
use ruff_text_size::{Ranged, TextRange};

/// Deepest statement/expression nesting accepted (CPython 3.11 gives up at about 2,990).
pub const MAX_DEPTH: usize = 2_980;
/// CPython's tokenizer limit on nested brackets (`MAXLEVEL`).
pub const MAX_BRACKETS: usize = 200;
/// CPython's tokenizer limit on indentation levels (`MAXINDENT` is 100 with level 0).
pub const MAX_INDENT: usize = 99;

/// A function, method or class with radon's score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// radon's full name: `f`, `Class.method` or `Class`.
    pub name: String,
    /// 1-based line of the `def`/`class` keyword.
    pub line: u32,
    /// 0-based UTF-8 byte column of the `def`/`async`/`class` keyword.
    pub col: u32,
    pub complexity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Function,
    Method,
    Class,
}

impl BlockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::Function => "function",
            BlockKind::Method => "method",
            BlockKind::Class => "class",
        }
    }
}

/// All blocks of a module in radon's order, and radon's `total_complexity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub blocks: Vec<Block>,
    pub total: i64,
}

/// Why a source has no report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplexityError {
    /// The source does not parse (message, 1-based line, 1-based column).
    Syntax(String, u32, u32),
    /// Too many indentation levels (CPython's IndentationError).
    Indentation(String, u32, u32),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// Where each line starts, to turn parser byte offsets into CPython's (line, byte column).
/// Lines end at `\n`, `\r\n` or a lone `\r`, as CPython's tokenizer reads them.
struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let bytes = source.as_bytes();
        let mut starts = vec![0u32];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push((i + 1) as u32),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push((i + 1) as u32);
                }
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts }
    }

    fn locate(&self, offset: u32) -> (u32, u32) {
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line.saturating_sub(1)];
        (line as u32, offset - start)
    }
}

struct Function {
    name: String,
    line: u32,
    col: u32,
    complexity: i64,
}

struct Class {
    name: String,
    line: u32,
    col: u32,
    methods: Vec<Function>,
    real: i64,
}

/// Shared by every scope's walker: the source, its line index and the deepest nesting seen.
struct Context<'a> {
    source: &'a str,
    lines: LineIndex,
}

/// radon's ComplexityVisitor for one scope: decision points reached without entering a
/// function or class, and the functions and classes found (scored on their own).
struct Scope<'a, 'c> {
    context: &'c Context<'a>,
    depth: usize,
    too_deep: bool,
    complexity: i64,
    functions: Vec<Function>,
    classes: Vec<Class>,
}

/// Stack the walk keeps free before recursing, and what it adds when short (as Ruff's
/// parser does, through the same `stacker` crate).
const RED_ZONE: usize = 128 * 1024;
const STACK_GROWTH: usize = 2 * 1024 * 1024;

impl<'a, 'c> Scope<'a, 'c> {
    fn new(context: &'c Context<'a>, depth: usize) -> Self {
        Scope {
            context,
            depth,
            too_deep: false,
            complexity: 0,
            functions: Vec::new(),
            classes: Vec::new(),
        }
    }

    fn walk(
        context: &'c Context<'a>,
        body: &'a [Stmt],
        depth: usize,
    ) -> Result<Self, ComplexityError> {
        let mut scope = Scope::new(context, depth);
        for stmt in body {
            scope.visit_stmt(stmt);
        }
        if scope.too_deep {
            return Err(ComplexityError::TooDeep);
        }
        Ok(scope)
    }

    /// Line and byte column of the `def`/`async`/`class` keyword: a definition's range
    /// starts at its first decorator, the keyword comes first after the last one.
    fn keyword_position(&self, range: TextRange, decorators: &[ast::Decorator]) -> (u32, u32) {
        let mut offset = u32::from(range.start()) as usize;
        if let Some(last) = decorators.last() {
            offset = u32::from(last.range().end()) as usize;
            let bytes = self.context.source.as_bytes();
            while offset < bytes.len() {
                match bytes[offset] {
                    b' ' | b'\t' | b'\x0c' | b'\r' | b'\n' | b'\\' => offset += 1,
                    b'#' => {
                        while offset < bytes.len() && !matches!(bytes[offset], b'\n' | b'\r') {
                            offset += 1;
                        }
                    }
                    _ => break,
                }
            }
        }
        self.context.lines.locate(offset as u32)
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.too_deep {
            return None;
        }
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return None;
        }
        self.depth += 1;
        let out = stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || f(self));
        self.depth -= 1;
        Some(out)
    }

    fn score_function(&mut self, f: &'a ast::StmtFunctionDef) {
        let (line, col) = self.keyword_position(f.range, &f.decorator_list);
        // Closures and classes defined inside are neither counted nor reported (radon).
        match Scope::walk(self.context, &f.body, self.depth + 1) {
            Ok(inner) => self.functions.push(Function {
                name: f.name.to_string(),
                line,
                col,
                complexity: 1 + inner.complexity,
            }),
            Err(_) => self.too_deep = true,
        }
    }

    fn score_class(&mut self, c: &'a ast::StmtClassDef) {
        let (line, col) = self.keyword_position(c.range, &c.decorator_list);
        match Scope::walk(self.context, &c.body, self.depth + 1) {
            Ok(inner) => {
                let methods_total: i64 = inner.functions.iter().map(|m| m.complexity).sum();
                self.classes.push(Class {
                    name: c.name.to_string(),
                    line,
                    col,
                    real: 1 + inner.complexity + methods_total,
                    methods: inner.functions,
                });
            }
            Err(_) => self.too_deep = true,
        }
    }
}

fn comprehension_points(generators: &[ast::Comprehension]) -> i64 {
    generators.iter().map(|g| 1 + g.ifs.len() as i64).sum()
}

impl<'a> SourceOrderVisitor<'a> for Scope<'a, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(f) => {
                self.nested(|scope| scope.score_function(f));
                return;
            }
            Stmt::ClassDef(c) => {
                self.nested(|scope| scope.score_class(c));
                return;
            }
            // The assert adds one; what is inside it is not looked at (radon).
            Stmt::Assert(_) => {
                self.complexity += 1;
                return;
            }
            Stmt::If(s) => {
                // Each `elif` is an If of its own in Python's AST.
                let elifs = s
                    .elif_else_clauses
                    .iter()
                    .filter(|c| c.test.is_some())
                    .count();
                self.complexity += 1 + elifs as i64;
            }
            Stmt::For(s) => self.complexity += 1 + i64::from(!s.orelse.is_empty()),
            Stmt::While(s) => self.complexity += 1 + i64::from(!s.orelse.is_empty()),
            // radon 6 does not know TryStar: `except*` adds nothing.
            Stmt::Try(s) if !s.is_star => {
                self.complexity += s.handlers.len() as i64 + i64::from(!s.orelse.is_empty());
            }
            Stmt::Match(s) => {
                // One less for an irrefutable case (`case _` / `case name`), as radon does.
                let irrefutable = s.cases.iter().any(
                    |case| matches!(&case.pattern, ast::Pattern::MatchAs(p) if p.pattern.is_none()),
                );
                self.complexity += (s.cases.len() as i64 - i64::from(irrefutable)).max(0);
            }
            _ => {}
        }
        self.nested(|scope| source_order::walk_stmt(scope, stmt));
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        self.complexity += match expr {
            Expr::BoolOp(e) => e.values.len() as i64 - 1,
            Expr::If(_) => 1,
            Expr::ListComp(e) => comprehension_points(&e.generators),
            Expr::SetComp(e) => comprehension_points(&e.generators),
            Expr::DictComp(e) => comprehension_points(&e.generators),
            Expr::Generator(e) => comprehension_points(&e.generators),
            _ => 0,
        };
        self.nested(|scope| source_order::walk_expr(scope, expr));
    }
}

/// CPython's tokenizer limits: brackets nested more than [`MAX_BRACKETS`] deep, and more
/// than [`MAX_INDENT`] indentation levels.
fn check_nesting(
    tokens: &ruff_python_ast::token::Tokens,
    lines: &LineIndex,
) -> Result<(), ComplexityError> {
    let mut brackets = 0usize;
    let mut indent = 0usize;
    for token in tokens.iter() {
        match token.kind() {
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                brackets += 1;
                if brackets > MAX_BRACKETS {
                    let (line, col) = lines.locate(u32::from(token.start()));
                    return Err(ComplexityError::Syntax(
                        "too many nested parentheses".to_string(),
                        line,
                        col + 1,
                    ));
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                brackets = brackets.saturating_sub(1)
            }
            TokenKind::Indent => {
                indent += 1;
                if indent > MAX_INDENT {
                    let (line, col) = lines.locate(u32::from(token.start()));
                    return Err(ComplexityError::Indentation(
                        "too many levels of indentation".to_string(),
                        line,
                        col + 1,
                    ));
                }
            }
            TokenKind::Dedent => indent = indent.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Stack kept free for a whole analysis: dropping a tree nested [`MAX_DEPTH`] deep recurses
/// once per level (a few hundred bytes each, more in debug builds).
const ANALYSIS_STACK: usize = 4 * 1024 * 1024;
/// Stack per source byte when dropping a tree that turned out deeper than [`MAX_DEPTH`]:
/// its depth is at most one level per byte.
const DROP_STACK_PER_BYTE: usize = 256;
/// Largest source whose over-deep tree is dropped on a grown stack; a larger one (only
/// hostile input is both that large and that deep) is leaked rather than risk the stack.
const DROP_STACK_LIMIT: usize = 16 * 1024 * 1024;

/// Parses `source` with the Python 3.11 grammar when `py311` is set (else the newest one)
/// and scores it.
pub fn analyze(source: &str, py311: bool) -> Result<Report, ComplexityError> {
    stacker::maybe_grow(ANALYSIS_STACK, ANALYSIS_STACK * 2, || {
        analyze_here(source, py311)
    })
}

fn analyze_here(source: &str, py311: bool) -> Result<Report, ComplexityError> {
    let lines = LineIndex::new(source);
    let target = if py311 {
        PythonVersion::PY311
    } else {
        PythonVersion::latest()
    };
    let options = ParseOptions::from(Mode::Module).with_target_version(target);
    let parsed = parse_unchecked(source, options);
    let located = |range: TextRange, message: String| {
        let (line, col) = lines.locate(u32::from(range.start()));
        ComplexityError::Syntax(message, line, col + 1)
    };
    // CPython stops at the first error in the source: report the earliest one, as an
    // IndentationError where CPython raises that subclass.
    if let Some(error) = parsed.errors().iter().min_by_key(|e| e.location.start()) {
        let (line, col) = lines.locate(u32::from(error.location.start()));
        let message = error.error.to_string();
        // Ruff words a missing block as "Expected an indented block after ..." (OtherError).
        let indentation = message.starts_with("Expected an indented block")
            || matches!(
                &error.error,
                ParseErrorType::UnexpectedIndentation
                    | ParseErrorType::Lexical(LexicalErrorType::IndentationError)
                    | ParseErrorType::ExpectedToken {
                        expected: TokenKind::Indent,
                        ..
                    }
            );
        return Err(if indentation {
            ComplexityError::Indentation(message, line, col + 1)
        } else {
            ComplexityError::Syntax(message, line, col + 1)
        });
    }
    if let Some(error) = parsed.unsupported_syntax_errors().first() {
        return Err(located(error.range, error.to_string()));
    }
    check_nesting(parsed.tokens(), &lines)?;
    let Some(module) = parsed.syntax().as_module() else {
        return Err(ComplexityError::Syntax("not a module".to_string(), 1, 1));
    };
    let context = Context { source, lines };
    let scope = match Scope::walk(&context, &module.body, 0) {
        Ok(scope) => scope,
        Err(error) => {
            drop_deep(parsed, source.len());
            return Err(error);
        }
    };
    let mut blocks = Vec::with_capacity(scope.functions.len() + scope.classes.len());
    // The module scope starts at 1 (radon's `off=True`).
    let mut total = 1 + scope.complexity;
    for f in &scope.functions {
        total += f.complexity - 1;
        blocks.push(Block {
            kind: BlockKind::Function,
            name: f.name.clone(),
            line: f.line,
            col: f.col,
            complexity: f.complexity,
        });
    }
    for class in &scope.classes {
        total += class.real - 1;
        let count = class.methods.len() as i64;
        let score = if count == 0 {
            class.real
        } else {
            class.real / count + i64::from(count > 1)
        };
        blocks.push(Block {
            kind: BlockKind::Class,
            name: class.name.clone(),
            line: class.line,
            col: class.col,
            complexity: score,
        });
        for m in &class.methods {
            blocks.push(Block {
                kind: BlockKind::Method,
                name: format!("{}.{}", class.name, m.name),
                line: m.line,
                col: m.col,
                complexity: m.complexity,
            });
        }
    }
    Ok(Report { blocks, total })
}

/// Drops a tree deeper than [`MAX_DEPTH`] (its drop recurses once per level) on a stack
/// sized for the worst case of its source length.
fn drop_deep<T>(tree: T, source_len: usize) {
    if source_len > DROP_STACK_LIMIT {
        std::mem::forget(tree);
        return;
    }
    let needed = ANALYSIS_STACK + source_len * DROP_STACK_PER_BYTE;
    stacker::maybe_grow(needed, needed, move || drop(tree));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(source: &str) -> Vec<(String, i64)> {
        analyze(source, true)
            .unwrap()
            .blocks
            .into_iter()
            .map(|b| (b.name, b.complexity))
            .collect()
    }

    #[test]
    fn counts_branches_loops_and_boolean_operands() {
        let source = "def f(a, b):\n    if a and b and a:\n        return 1\n    elif b:\n        pass\n    for x in a:\n        pass\n    else:\n        pass\n    return [y for y in b if y if not y]\n";
        // 1 + if + 2 (and chain) + elif + for + for-else + comprehension(1 + 2 ifs)
        assert_eq!(scores(source), vec![("f".to_string(), 10)]);
    }

    #[test]
    fn classes_methods_and_closures() {
        let source = "class A:\n    def m(self):\n        def inner():\n            if x: pass\n        return 1\n    def n(self):\n        while x: pass\n";
        let report = analyze(source, true).unwrap();
        let got: Vec<_> = report
            .blocks
            .iter()
            .map(|b| (b.name.as_str(), b.complexity))
            .collect();
        // real = 1 + 1 + 2 = 4; two methods: 4 // 2 + 1 = 3
        assert_eq!(got, vec![("A", 3), ("A.m", 1), ("A.n", 2)]);
        assert_eq!(report.total, 1 + 3);
    }

    #[test]
    fn decorated_definitions_report_the_keyword_line() {
        let source = "@dec(\n  1)\n# comment\n@other\nasync def f():\n    pass\n";
        let report = analyze(source, true).unwrap();
        assert_eq!((report.blocks[0].line, report.blocks[0].col), (5, 0));
    }

    #[test]
    fn match_try_and_assert_follow_radon() {
        let source = "def f(x):\n    match x:\n        case 1: pass\n        case _: pass\n    try:\n        pass\n    except A: pass\n    except B: pass\n    else: pass\n    assert x and x\n";
        // 1 + match(2 - 1) + try(2 + 1) + assert 1 (its BoolOp is not looked at)
        assert_eq!(scores(source), vec![("f".to_string(), 6)]);
    }

    #[test]
    fn syntax_errors_and_py312_syntax_are_refused() {
        assert!(matches!(
            analyze("def f(:\n", true),
            Err(ComplexityError::Syntax(..))
        ));
        assert!(matches!(
            analyze("type X = int\n", true),
            Err(ComplexityError::Syntax(..))
        ));
        assert!(analyze("type X = int\n", false).is_ok());
        let parens = format!("x = {}1{}\n", "(".repeat(201), ")".repeat(201));
        assert!(matches!(
            analyze(&parens, true),
            Err(ComplexityError::Syntax(..))
        ));
        let ok = format!("x = {}1{}\n", "(".repeat(200), ")".repeat(200));
        assert!(analyze(&ok, true).is_ok());
        let mut deep = String::new();
        for level in 0..100 {
            deep += &format!("{}if x:\n", " ".repeat(level));
        }
        deep += &format!("{}pass\n", " ".repeat(100));
        assert!(matches!(
            analyze(&deep, true),
            Err(ComplexityError::Indentation(..))
        ));
    }

    #[test]
    fn deep_operator_chains_do_not_overflow() {
        let source = format!("x = {}1\n", "1 + ".repeat(50_000));
        // Deeper than CPython accepts: refused like CPython refuses it, without a crash.
        assert_eq!(analyze(&source, true), Err(ComplexityError::TooDeep));
        let shallow = format!("x = {}1\n", "1 + ".repeat(2_000));
        assert_eq!(analyze(&shallow, true).map(|r| r.total), Ok(1));
    }
}
