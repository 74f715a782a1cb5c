//! ValidationCore: JSON Schema validation with the `jsonschema` crate.
//!
//! The contract is `pyagent/validation_core.py`'s: the draft comes from the top-level
//! `$schema` (Draft 2020-12 or Draft 7, 2020-12 when absent, anything else is an error),
//! the schema must be valid against its meta-schema and every reference must resolve
//! offline (the crate is built without its HTTP and file retrievers), and `format` is an
//! annotation only, as are `contentEncoding` / `contentMediaType`. Errors carry the instance location and the schema keyword location as
//! JSON pointers. A panic inside the engine is caught and reported as an error, never
//! propagated.

use std::panic::{catch_unwind, AssertUnwindSafe};

use jsonschema::Draft;
use rayon::prelude::*;
use serde_json::Value;

pub const DRAFT202012_URI: &str = "https://json-schema.org/draft/2020-12/schema";
pub const DRAFT7_URI: &str = "http://json-schema.org/draft-07/schema";

/// Below this many instances a batch is validated on the calling thread.
const PARALLEL_MIN: usize = 256;

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

/// The draft named by the schema's top-level `$schema` (2020-12 when there is none).
pub fn draft_of(schema: &Value) -> Result<Draft, SchemaError> {
    let Some(uri) = schema.as_object().and_then(|object| object.get("$schema")) else {
        return Ok(Draft::Draft202012);
    };
    if let Some(text) = uri.as_str() {
        let bare = text.strip_suffix('#').unwrap_or(text);
        if bare == DRAFT202012_URI {
            return Ok(Draft::Draft202012);
        }
        if bare == DRAFT7_URI {
            return Ok(Draft::Draft7);
        }
    }
    Err(SchemaError(format!(
        "unsupported $schema {uri}: Draft 2020-12 or Draft 7 only"
    )))
}

/// A schema checked and compiled once, for validating many instances.
pub struct CompiledSchema {
    validator: jsonschema::Validator,
    draft: Draft,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

impl CompiledSchema {
    /// Compiles `schema`, or says why it cannot be used.
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        let draft = draft_of(schema)?;
        let built = catch_unwind(AssertUnwindSafe(|| {
            jsonschema::options()
                .with_draft(draft)
                .should_validate_formats(false)
                // Draft 7's content keywords are annotations, as in the Python reference.
                .without_content_media_type_support("application/json")
                .without_content_encoding_support("base64")
                .without_content_encoding_support("base64url")
                .build(schema)
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
        if self.draft == Draft::Draft7 {
            DRAFT7_URI
        } else {
            DRAFT202012_URI
        }
    }

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

    /// True when `instance` is valid.
    pub fn is_valid(&self, instance: &Value) -> Result<bool, SchemaError> {
        catch_unwind(AssertUnwindSafe(|| self.validator.is_valid(instance))).map_err(|payload| {
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

    fn locations(schema: &Value, instance: &Value) -> Vec<String> {
        let compiled = CompiledSchema::new(schema).map_err(|e| e.0).unwrap();
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
        assert_eq!(draft_of(&json!({})), Ok(Draft::Draft202012));
        assert_eq!(draft_of(&json!(true)), Ok(Draft::Draft202012));
        assert_eq!(
            draft_of(&json!({"$schema": "http://json-schema.org/draft-07/schema#"})),
            Ok(Draft::Draft7)
        );
        assert_eq!(
            draft_of(&json!({"$schema": DRAFT202012_URI})),
            Ok(Draft::Draft202012)
        );
        assert!(draft_of(&json!({"$schema": "http://json-schema.org/draft-04/schema#"})).is_err());
        assert!(draft_of(&json!({"$schema": 7})).is_err());
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
        let compiled = CompiledSchema::new(&schema).unwrap();
        assert!(compiled.is_valid(&json!({"z": 0})).unwrap());
        assert_eq!(compiled.draft_uri(), DRAFT202012_URI);
    }

    #[test]
    fn draft7_and_unevaluated() {
        let d7 = json!({"$schema": "http://json-schema.org/draft-07/schema#",
                        "items": [{"type": "string"}], "additionalItems": false});
        assert_eq!(locations(&d7, &json!([1, 2])), vec!["", "/0"]);
        let unevaluated = json!({"properties": {"a": {}}, "unevaluatedProperties": false});
        let compiled = CompiledSchema::new(&unevaluated).unwrap();
        assert!(compiled.is_valid(&json!({"a": 1})).unwrap());
        assert!(!compiled.is_valid(&json!({"a": 1, "b": 2})).unwrap());
    }

    #[test]
    fn bad_schemas_and_remote_refs_are_errors() {
        assert!(CompiledSchema::new(&json!({"type": 5})).is_err());
        assert!(CompiledSchema::new(&json!({"$ref": "http://localhost:1234/x.json"})).is_err());
        assert!(CompiledSchema::new(&json!({"$ref": "#/$defs/missing"})).is_err());
        assert!(CompiledSchema::new(&json!(3)).is_err());
        // The bundled meta-schemas resolve without any retrieval.
        assert!(CompiledSchema::new(&json!({"$ref": DRAFT202012_URI})).is_ok());
    }

    #[test]
    fn batches_match_single_calls() {
        let compiled = CompiledSchema::new(&json!({"type": "integer", "minimum": 10})).unwrap();
        let instances: Vec<Value> = (0..1000).map(|i| json!(i)).collect();
        let valid = compiled.is_valid_many(&instances).unwrap();
        let full = compiled.validate_many(&instances).unwrap();
        for (i, (ok, issues)) in valid.iter().zip(&full).enumerate() {
            assert_eq!(*ok, i >= 10);
            assert_eq!(issues.is_empty(), *ok);
        }
    }
}
