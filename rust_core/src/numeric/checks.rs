//! Input validation shared by the numeric cores (pruning, metrics, telemetry).
//!
//! Every failure here reaches Python as ValueError: NaN or infinity, empty input and
//! out-of-range parameters. Type and shape errors are the binding layer's business.

use std::fmt;

/// Bad numeric input: the message says which argument and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput(pub String);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidInput {}

/// Shorthand for an `Err(InvalidInput)`.
pub fn invalid<T>(message: impl Into<String>) -> Result<T, InvalidInput> {
    Err(InvalidInput(message.into()))
}

/// Err unless every value is finite (no NaN, no infinity).
pub fn require_finite(values: &[f64], name: &str) -> Result<(), InvalidInput> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        invalid(format!("{name} must be finite (no NaN or infinity)"))
    }
}

/// Err if `values` is empty.
pub fn require_non_empty(values: &[f64], name: &str) -> Result<(), InvalidInput> {
    if values.is_empty() {
        invalid(format!("{name} must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_and_non_empty() {
        assert!(require_finite(&[1.0, -2.0], "x").is_ok());
        assert!(require_finite(&[1.0, f64::NAN], "x").is_err());
        assert!(require_finite(&[f64::INFINITY], "x").is_err());
        assert!(require_non_empty(&[], "x").is_err());
        assert_eq!(
            require_non_empty(&[], "weights").unwrap_err().to_string(),
            "weights must not be empty"
        );
    }
}
