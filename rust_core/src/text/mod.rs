//! Parsing and matching text: configuration documents, JSON Schema, templates, content rules, the BPE tokenizer and source-code complexity.

pub mod complexity;
pub mod config;
pub mod content;
pub mod schema;
pub mod schema_pattern;
pub mod template;
pub mod tokenizer;
