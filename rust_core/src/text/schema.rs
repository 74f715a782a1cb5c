//! ValidationCore: JSON Schema validation with the `jsonschema` crate.
//!
//! The contract is `pyagent/validation_core.py`'s: the draft comes from the top-level
//! `$schema` (Draft 4, 6, 7, 2019-09 or 2020-12, 2020-12 when absent, or a registered
//! meta-schema whose own `$schema` is one of them; anything else is an error), the schema
//! must be valid against its meta-schema, every `pattern` must be in the shared dialect
//! (`schema_pattern`), and every reference must resolve: to the schema itself, a bundled
//! meta-schema, a document the caller registered, or one the caller's retrieve function
//! returns (the crate is built without its HTTP and file retrievers). `format` is an
//! annotation unless the caller asks for assertion of [`ASSERTED_FORMATS`];
//! `contentEncoding` / `contentMediaType` are annotations. Errors carry the instance
//! location and the schema keyword location as JSON pointers. A panic inside the engine is
//! caught and reported as an error, never propagated.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use jsonschema::json::{Json, SerdeJson};
use jsonschema::{Draft, PatternOptions, Retrieve, Uri};
use rayon::prelude::*;
use serde_json::Value;

use crate::text::schema_pattern;

pub const DRAFT4_URI: &str = "http://json-schema.org/draft-04/schema";
pub const DRAFT6_URI: &str = "http://json-schema.org/draft-06/schema";
pub const DRAFT7_URI: &str = "http://json-schema.org/draft-07/schema";
pub const DRAFT201909_URI: &str = "https://json-schema.org/draft/2019-09/schema";
pub const DRAFT202012_URI: &str = "https://json-schema.org/draft/2020-12/schema";
const DRAFTS: [(&str, Draft); 5] = [
    (DRAFT4_URI, Draft::Draft4),
    (DRAFT6_URI, Draft::Draft6),
    (DRAFT7_URI, Draft::Draft7),
    (DRAFT201909_URI, Draft::Draft201909),
    (DRAFT202012_URI, Draft::Draft202012),
];
/// The formats asserted on request; every other format stays an annotation.
pub const ASSERTED_FORMATS: [&str; 5] = ["date", "ipv4", "ipv6", "regex", "uuid"];
/// The formats the crate knows: those outside [`ASSERTED_FORMATS`] are turned off.
const ENGINE_FORMATS: [&str; 19] = [
    "date",
    "date-time",
    "duration",
    "email",
    "hostname",
    "idn-email",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
];
/// Compiled-program limit per pattern: far above what the dialect's size limit allows.
const PATTERN_SIZE_LIMIT: usize = 256 << 20;

/// Below this many instances a batch is validated on the calling thread.
const PARALLEL_MIN: usize = 256;

/// The caller's function for documents a reference reaches that are not registered: the
/// document, or why it cannot be had.
pub type RetrieveFn = dyn Fn(&str) -> Result<Value, String> + Send + Sync;

/// What a schema may reach and how formats are treated.
#[derive(Default, Clone)]
pub struct SchemaOptions {
    /// Registered documents by absolute URI (without a trailing `#`).
    pub documents: HashMap<String, Value>,
    pub retrieve: Option<Arc<RetrieveFn>>,
    pub assert_formats: bool,
    /// Documents `retrieve` returned, by URI, shared by the clones of these options: a schema
    /// compiled for a second representation asks the caller for each document only once.
    pub fetched: Arc<Mutex<HashMap<String, Value>>>,
}

/// One validation failure: instance location, schema keyword location (JSON pointers) and a
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub instance_path: String,
    pub schema_path: String,
    pub message: String,
}

/// The schema cannot be used (unknown `$schema`, invalid, unresolvable reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn known_draft(uri: &Value) -> Option<Draft> {
    let text = uri.as_str()?;
    let bare = text.strip_suffix('#').unwrap_or(text);
    DRAFTS
        .iter()
        .find(|(name, _)| *name == bare)
        .map(|(_, draft)| *draft)
}

/// The draft named by the schema's top-level `$schema`, directly or through a registered
/// meta-schema (2020-12 when there is none).
pub fn draft_of(schema: &Value, documents: &HashMap<String, Value>) -> Result<Draft, SchemaError> {
    let Some(uri) = schema.as_object().and_then(|object| object.get("$schema")) else {
        return Ok(Draft::Draft202012);
    };
    let through_registry = || {
        let text = uri.as_str()?;
        let meta = documents.get(text.strip_suffix('#').unwrap_or(text))?;
        known_draft(meta.as_object()?.get("$schema")?)
    };
    known_draft(uri).or_else(through_registry).ok_or_else(|| {
        SchemaError(format!(
            "unsupported $schema {uri}: one of {}, or a registered meta-schema whose own \
             $schema is one of them",
            DRAFTS.map(|(name, _)| name).join(", ")
        ))
    })
}

/// Keywords whose value is data, never a schema: the pattern walk does not enter them.
const DATA_KEYWORDS: [&str; 4] = ["enum", "const", "default", "examples"];
/// Keywords whose value maps names to schemas (the names are not keywords).
const SCHEMA_MAPS: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

/// Rewrites every `pattern` and `patternProperties` name where a schema may sit into the
/// canonical form of the shared dialect, or says which one is refused. The same walk as the
/// reference's `_schema_patterns` (everything but data keywords), in the same order.
pub fn rewrite_patterns(schema: &mut Value) -> Result<(), SchemaError> {
    let refused = |why: String| SchemaError(format!("invalid pattern: {why}"));
    let mut pending: Vec<&mut Value> = vec![schema];
    while let Some(node) = pending.pop() {
        let mut children: Vec<&mut Value> = Vec::new();
        match node {
            Value::Array(items) => children.extend(items.iter_mut()),
            Value::Object(object) => {
                for (key, value) in object.iter_mut() {
                    if DATA_KEYWORDS.contains(&key.as_str()) {
                        continue;
                    }
                    if key == "pattern" {
                        if let Value::String(text) = value {
                            *text = schema_pattern::translate(text).map_err(refused)?;
                            continue;
                        }
                    }
                    if SCHEMA_MAPS.contains(&key.as_str()) && value.is_object() {
                        if let Value::Object(map) = value {
                            if key == "patternProperties" {
                                let old = std::mem::take(map);
                                for (name, sub) in old {
                                    let name = schema_pattern::translate(&name).map_err(refused)?;
                                    map.insert(name, sub);
                                }
                            }
                            children.extend(map.values_mut());
                        }
                        continue;
                    }
                    children.push(value);
                }
            }
            _ => {}
        }
        children.reverse();
        pending.extend(children);
    }
    Ok(())
}

/// `YYYY-MM-DD`, a real day of year 1 or later: the reference's check (a regex, then
/// `datetime.date.fromisoformat`), here for every draft, as the crate knows `date` from Draft 7.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &bytes[range];
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day)
}

/// The hyphenated RFC 9562 form (`8-4-4-4-12` hex digits), for every draft.
fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// `document` against the meta-schema of the draft it declares (`draft` when it declares none
/// the crate knows), as the reference checks every document a reference reaches.
///
/// The crate checks only the root: a registered Draft 4 document holding `"items": false`
/// compiled here and validated, where the reference's Draft 4 code fails on the boolean.
fn check_against_meta(document: &Value, draft: Draft) -> Result<(), String> {
    let declared = document
        .as_object()
        .and_then(|object| object.get("$schema"))
        .and_then(known_draft);
    let checked = match declared.unwrap_or(draft) {
        Draft::Draft4 => jsonschema::draft4::meta::validate(document),
        Draft::Draft6 => jsonschema::draft6::meta::validate(document),
        Draft::Draft7 => jsonschema::draft7::meta::validate(document),
        Draft::Draft201909 => jsonschema::draft201909::meta::validate(document),
        _ => jsonschema::draft202012::meta::validate(document),
    };
    checked.map_err(|error| format!("a referenced document is not a valid schema: {error}"))
}

/// Serves registered documents, then the caller's function; every document served is checked
/// against its meta-schema and has its patterns rewritten (or is refused) as the root's are.
struct DocumentRetriever {
    /// The root's draft: the draft of a served document that declares none.
    draft: Draft,
    documents: HashMap<String, Value>,
    retrieve: Option<Arc<RetrieveFn>>,
    fetched: Arc<Mutex<HashMap<String, Value>>>,
}

impl Retrieve for DocumentRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let key = uri.as_str();
        let key = key.strip_suffix('#').unwrap_or(key);
        let known = self.fetched.lock().ok().and_then(|f| f.get(key).cloned());
        let mut document = match (self.documents.get(key).or(known.as_ref()), &self.retrieve) {
            (Some(document), _) => document.clone(),
            (None, Some(retrieve)) => {
                let document = retrieve(key)?;
                if let Ok(mut fetched) = self.fetched.lock() {
                    fetched.insert(key.to_owned(), document.clone());
                }
                document
            }
            (None, None) => {
                return Err(
                    format!("{key} is not registered and no retrieve callable was given").into(),
                )
            }
        };
        check_against_meta(&document, self.draft)?;
        rewrite_patterns(&mut document).map_err(|e| e.0)?;
        Ok(document)
    }
}

/// A schema checked and compiled once, for validating many instances in the representation
/// `F` (`serde_json::Value` unless the binding supplies its own, see `jsonschema::json`).
pub struct CompiledSchema<F: Json = SerdeJson> {
    validator: jsonschema::Validator<F>,
    draft: Draft,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl<F: Json> CompiledSchema<F> {
    /// Compiles `schema`, or says why it cannot be used.
    pub fn new(schema: &Value, options: &SchemaOptions) -> Result<Self, SchemaError> {
        let draft = draft_of(schema, &options.documents)?;
        let mut rewritten = schema.clone();
        rewrite_patterns(&mut rewritten)?;
        let retriever = DocumentRetriever {
            draft,
            documents: options.documents.clone(),
            retrieve: options.retrieve.clone(),
            fetched: options.fetched.clone(),
        };
        let built = catch_unwind(AssertUnwindSafe(|| {
            let mut engine = jsonschema::options_for::<F>()
                .with_draft(draft)
                .with_retriever(retriever)
                .with_pattern_options(PatternOptions::regex().size_limit(PATTERN_SIZE_LIMIT))
                .should_validate_formats(options.assert_formats)
                // The content keywords are annotations, as in the Python reference.
                .without_content_media_type_support("application/json")
                .without_content_encoding_support("base64")
                .without_content_encoding_support("base64url");
            for name in ENGINE_FORMATS {
                if !ASSERTED_FORMATS.contains(&name) {
                    engine = engine.with_format(name, |_: &str| true);
                }
            }
            engine
                .with_format("regex", |text: &str| {
                    schema_pattern::translate(text).is_ok()
                })
                .with_format("date", is_date)
                .with_format("uuid", is_uuid)
                .build(&rewritten)
        }));
        match built {
            Ok(Ok(validator)) => Ok(CompiledSchema { validator, draft }),
            Ok(Err(error)) => Err(SchemaError(format!("invalid schema: {error}"))),
            Err(payload) => Err(SchemaError(format!(
                "the schema engine failed: {}",
                panic_message(payload.as_ref())
            ))),
        }
    }

    /// The draft's meta-schema URI, without a trailing `#`.
    pub fn draft_uri(&self) -> &'static str {
        DRAFTS
            .iter()
            .find(|(_, draft)| *draft == self.draft)
            .map_or(DRAFT202012_URI, |(name, _)| name)
    }

    /// True when `instance` is valid.
    pub fn is_valid(&self, instance: F::Node<'_>) -> Result<bool, SchemaError> {
        catch_unwind(AssertUnwindSafe(|| self.validator.is_valid(instance))).map_err(|payload| {
            SchemaError(format!(
                "the schema engine failed: {}",
                panic_message(payload.as_ref())
            ))
        })
    }
}

impl CompiledSchema {
    /// Every error for `instance`, in the engine's order (empty when valid).
    pub fn validate(&self, instance: &Value) -> Result<Vec<Issue>, SchemaError> {
        catch_unwind(AssertUnwindSafe(|| {
            self.validator
                .iter_errors(instance)
                .map(|error| Issue {
                    instance_path: error.instance_path().as_str().to_owned(),
                    schema_path: error.schema_path().as_str().to_owned(),
                    message: error.to_string(),
                })
                .collect()
        }))
        .map_err(|payload| {
            SchemaError(format!(
                "the schema engine failed: {}",
                panic_message(payload.as_ref())
            ))
        })
    }

    /// [`CompiledSchema::validate`] for each instance, in order, in parallel when many.
    pub fn validate_many(&self, instances: &[Value]) -> Result<Vec<Vec<Issue>>, SchemaError> {
        if instances.len() < PARALLEL_MIN {
            return instances.iter().map(|v| self.validate(v)).collect();
        }
        instances.par_iter().map(|v| self.validate(v)).collect()
    }

    /// [`CompiledSchema::is_valid`] for each instance, in order, in parallel when many.
    pub fn is_valid_many(&self, instances: &[Value]) -> Result<Vec<bool>, SchemaError> {
        if instances.len() < PARALLEL_MIN {
            return instances.iter().map(|v| self.is_valid(v)).collect();
        }
        instances
            .par_iter()
            .with_min_len(64)
            .map(|v| self.is_valid(v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compiled(schema: &Value) -> Result<CompiledSchema, SchemaError> {
        CompiledSchema::new(schema, &SchemaOptions::default())
    }

    fn locations(schema: &Value, instance: &Value) -> Vec<String> {
        let compiled = compiled(schema).map_err(|e| e.0).unwrap();
        let mut paths: Vec<String> = compiled
            .validate(instance)
            .unwrap()
            .into_iter()
            .map(|i| i.instance_path)
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    #[test]
    fn draft_selection() {
        let none = HashMap::new();
        assert_eq!(draft_of(&json!({}), &none), Ok(Draft::Draft202012));
        assert_eq!(draft_of(&json!(true), &none), Ok(Draft::Draft202012));
        assert_eq!(
            draft_of(
                &json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
                &none
            ),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            draft_of(
                &json!({"$schema": "http://json-schema.org/draft-04/schema#"}),
                &none
            ),
            Ok(Draft::Draft4)
        );
        assert_eq!(
            draft_of(&json!({"$schema": DRAFT201909_URI}), &none),
            Ok(Draft::Draft201909)
        );
        assert!(draft_of(
            &json!({"$schema": "http://json-schema.org/draft-03/schema#"}),
            &none
        )
        .is_err());
        assert!(draft_of(&json!({"$schema": 7}), &none).is_err());
        let meta = HashMap::from([(
            "http://example.com/meta".to_owned(),
            json!({"$schema": DRAFT6_URI}),
        )]);
        assert_eq!(
            draft_of(&json!({"$schema": "http://example.com/meta#"}), &meta),
            Ok(Draft::Draft6)
        );
    }

    #[test]
    fn errors_carry_json_pointers() {
        let schema = json!({
            "$defs": {"s": {"type": "string"}},
            "properties": {"a/b": {"$ref": "#/$defs/s"}, "n": {"items": {"minimum": 0}}},
            "required": ["z"]
        });
        let got = locations(&schema, &json!({"a/b": 1, "n": [1, -1]}));
        assert_eq!(got, vec!["", "/a~1b", "/n/1"]);
        let compiled = compiled(&schema).unwrap();
        assert!(compiled.is_valid(&json!({"z": 0})).unwrap());
        assert_eq!(compiled.draft_uri(), DRAFT202012_URI);
    }

    #[test]
    fn draft7_and_unevaluated() {
        let d7 = json!({"$schema": "http://json-schema.org/draft-07/schema#",
                        "items": [{"type": "string"}], "additionalItems": false});
        assert_eq!(locations(&d7, &json!([1, 2])), vec!["", "/0"]);
        let unevaluated = json!({"properties": {"a": {}}, "unevaluatedProperties": false});
        let compiled = compiled(&unevaluated).unwrap();
        assert!(compiled.is_valid(&json!({"a": 1})).unwrap());
        assert!(!compiled.is_valid(&json!({"a": 1, "b": 2})).unwrap());
    }

    #[test]
    fn bad_schemas_and_unregistered_refs_are_errors() {
        assert!(compiled(&json!({"type": 5})).is_err());
        assert!(compiled(&json!({"$ref": "http://localhost:1234/x.json"})).is_err());
        assert!(compiled(&json!({"$ref": "#/$defs/missing"})).is_err());
        assert!(compiled(&json!(3)).is_err());
        assert!(compiled(&json!({"pattern": "(?=a)"})).is_err());
        // The bundled meta-schemas resolve without any retrieval.
        assert!(compiled(&json!({"$ref": DRAFT202012_URI})).is_ok());
    }

    #[test]
    fn registry_and_retrieve() {
        let uri = "http://example.com/name.json";
        let options = SchemaOptions {
            documents: HashMap::from([(uri.to_owned(), json!({"pattern": "^\\p{Lu}"}))]),
            ..SchemaOptions::default()
        };
        let schema = json!({"$ref": uri});
        let compiled = CompiledSchema::<SerdeJson>::new(&schema, &options).unwrap();
        assert!(compiled.is_valid(&json!("Émile")).unwrap());
        assert!(!compiled.is_valid(&json!("émile")).unwrap());
        let retrieve: Arc<RetrieveFn> = Arc::new(|uri: &str| {
            if uri.ends_with("/int.json") {
                Ok(json!({"type": "integer"}))
            } else {
                Err(format!("no {uri}"))
            }
        });
        let options = SchemaOptions {
            retrieve: Some(retrieve),
            ..SchemaOptions::default()
        };
        let good = json!({"$ref": "http://example.com/int.json"});
        assert!(CompiledSchema::<SerdeJson>::new(&good, &options)
            .unwrap()
            .is_valid(&json!(3))
            .unwrap());
        let bad = json!({"$ref": "http://example.com/other.json"});
        assert!(CompiledSchema::<SerdeJson>::new(&bad, &options).is_err());
    }

    #[test]
    fn formats_are_asserted_on_request_only() {
        let schema = json!({"format": "ipv4"});
        let annotate = compiled(&schema).unwrap();
        assert!(annotate.is_valid(&json!("x")).unwrap());
        let options = SchemaOptions {
            assert_formats: true,
            ..SchemaOptions::default()
        };
        let assert = CompiledSchema::<SerdeJson>::new(&schema, &options).unwrap();
        assert!(!assert.is_valid(&json!("x")).unwrap());
        assert!(assert.is_valid(&json!("10.0.0.1")).unwrap());
        assert!(is_date("2024-02-29") && !is_date("2023-02-29") && !is_date("0000-01-01"));
        assert!(!is_date("2024-1-01") && !is_date("2024-01-01\n"));
        assert!(is_uuid("2EB8AA08-aa98-11ea-b4aa-73b441d16380"));
        assert!(!is_uuid("2eb8aa08aa9811eab4aa73b441d16380"));
        let email =
            CompiledSchema::<SerdeJson>::new(&json!({"format": "email"}), &options).unwrap();
        assert!(email.is_valid(&json!("not an email")).unwrap());
    }

    #[test]
    fn batches_match_single_calls() {
        let compiled = compiled(&json!({"type": "integer", "minimum": 10})).unwrap();
        let instances: Vec<Value> = (0..1000).map(|i| json!(i)).collect();
        let valid = compiled.is_valid_many(&instances).unwrap();
        let full = compiled.validate_many(&instances).unwrap();
        for (i, (ok, issues)) in valid.iter().zip(&full).enumerate() {
            assert_eq!(*ok, i >= 10);
            assert_eq!(issues.is_empty(), *ok);
        }
    }
}
