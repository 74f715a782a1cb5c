//! Logic/Pruning hot path: exponential synaptic decay with a floor.
//!
//! `decayed = max(weight * exp(-ln 2 * age / half_life), min_weight)`, evaluated in exactly
//! that order so the result matches the Python reference (which calls the same libm `exp`).

use rayon::prelude::*;
use std::f64::consts::LN_2;

use crate::numeric::{invalid, require_finite, InvalidInput};

/// The floor a decayed weight never drops below unless the caller picks another.
pub const DEFAULT_MIN_WEIGHT: f64 = 0.05;

/// Below this many synapses one thread is faster than splitting the work.
const PARALLEL_MIN: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

/// Err unless `half_life` is finite and > 0 and `min_weight` is finite and >= 0.
pub fn check_parameters(half_life: f64, min_weight: f64) -> Result<(), InvalidInput> {
    if !(half_life.is_finite() && half_life > 0.0) {
        return invalid(format!(
            "half_life must be finite and > 0, got {half_life:?}"
        ));
    }
    if !(min_weight.is_finite() && min_weight >= 0.0) {
        return invalid(format!(
            "min_weight must be finite and >= 0, got {min_weight:?}"
        ));
    }
    Ok(())
}

#[inline]
fn decay_unchecked(weight: f64, age: f64, half_life: f64, min_weight: f64) -> f64 {
    (weight * (-LN_2 * age / half_life).exp()).max(min_weight)
}

/// The decay of one synapse, validated like the vector form.
pub fn decay_scalar(
    weight: f64,
    age: f64,
    half_life: f64,
    min_weight: f64,
) -> Result<f64, InvalidInput> {
    check_parameters(half_life, min_weight)?;
    if !weight.is_finite() {
        return invalid(format!("weight must be finite, got {weight:?}"));
    }
    if !age.is_finite() {
        return invalid(format!("age must be finite, got {age:?}"));
    }
    if age < 0.0 {
        return invalid(format!("age must be >= 0, got {age:?}"));
    }
    Ok(decay_unchecked(weight, age, half_life, min_weight))
}

/// Decayed weights of equal-length `weights` and `ages`; parallel over large inputs.
pub fn decay(
    weights: &[f64],
    ages: &[f64],
    half_life: f64,
    min_weight: f64,
) -> Result<Vec<f64>, InvalidInput> {
    if weights.len() != ages.len() {
        return invalid(format!(
            "weights and ages differ in length: {} != {}",
            weights.len(),
            ages.len()
        ));
    }
    if weights.is_empty() {
        return invalid("weights must not be empty");
    }
    check_parameters(half_life, min_weight)?;
    let mut out = vec![0.0; weights.len()];
    // One pass computes and validates (each chunk reports whether its inputs were valid);
    // bad input, the rare case, is diagnosed afterwards for the message.
    let fill = |(o, (w, a)): (&mut [f64], (&[f64], &[f64]))| -> bool {
        let mut valid = true;
        for ((o, &w), &a) in o.iter_mut().zip(w).zip(a) {
            valid &= w.is_finite() & a.is_finite() & (a >= 0.0);
            *o = decay_unchecked(w, a, half_life, min_weight);
        }
        valid
    };
    let valid = if weights.len() >= PARALLEL_MIN {
        out.par_chunks_mut(CHUNK)
            .zip(weights.par_chunks(CHUNK).zip(ages.par_chunks(CHUNK)))
            .map(fill)
            .reduce(|| true, |a, b| a & b)
    } else {
        fill((&mut out[..], (weights, ages)))
    };
    if !valid {
        require_finite(weights, "weights")?;
        require_finite(ages, "ages")?;
        return invalid("ages must be >= 0");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_every_half_life_and_stops_at_the_floor() {
        let got = decay(&[1.0, 1.0, 1.0, 0.8], &[0.0, 10.0, 20.0, 1e6], 10.0, 0.05).unwrap();
        assert_eq!(got[0], 1.0);
        assert!((got[1] - 0.5).abs() < 1e-15);
        assert!((got[2] - 0.25).abs() < 1e-15);
        assert_eq!(got[3], 0.05);
        assert_eq!(decay_scalar(1.0, 10.0, 10.0, 0.0).unwrap(), got[1]);
    }

    #[test]
    fn parallel_equals_serial() {
        let n = PARALLEL_MIN * 3 + 17;
        let weights: Vec<f64> = (0..n).map(|i| (i % 97) as f64 / 97.0).collect();
        let ages: Vec<f64> = (0..n).map(|i| (i % 1013) as f64).collect();
        let got = decay(&weights, &ages, 300.0, 0.01).unwrap();
        for i in (0..n).step_by(997) {
            assert_eq!(
                got[i],
                decay_scalar(weights[i], ages[i], 300.0, 0.01).unwrap()
            );
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decay(&[], &[], 1.0, 0.05).is_err());
        assert!(decay(&[1.0], &[1.0, 2.0], 1.0, 0.05).is_err());
        assert!(decay(&[1.0], &[1.0], 0.0, 0.05).is_err());
        assert!(decay(&[1.0], &[1.0], -1.0, 0.05).is_err());
        assert!(decay(&[1.0], &[1.0], f64::NAN, 0.05).is_err());
        assert!(decay(&[1.0], &[1.0], 1.0, -0.1).is_err());
        assert!(decay(&[f64::NAN], &[1.0], 1.0, 0.05).is_err());
        assert!(decay(&[1.0], &[-1.0], 1.0, 0.05).is_err());
        assert!(decay_scalar(1.0, -0.5, 1.0, 0.05).is_err());
        assert!(decay_scalar(f64::INFINITY, 0.5, 1.0, 0.05).is_err());
    }
}
