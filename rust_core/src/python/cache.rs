//! CacheCore bindings: generate_hash, verify_integrity and their batch forms.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use rayon::prelude::*;

use super::buffer::TextOrBytes;
use crate::storage::hashing::{self, Algorithm, RawDigest};

/// Below this many bytes releasing the GIL costs more than it frees (hashlib uses 2 KiB).
const GIL_RELEASE_BYTES: usize = 4096;
/// A batch is hashed on the rayon pool once it holds this many bytes in all.
const PARALLEL_BYTES: usize = 1 << 20;

/// The `algorithm` argument: a str naming one of [`Algorithm::NAMES`].
///
/// Extracted by hand so a str that cannot be UTF-8 encoded is the same ValueError as any
/// other unknown name, as in the Python reference, rather than a UnicodeEncodeError.
pub struct AlgorithmArg(Algorithm);

impl<'a, 'py> FromPyObject<'a, 'py> for AlgorithmArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let name = obj.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("algorithm must be str, not {}", type_name(&obj)))
        })?;
        let text = name.to_cow().unwrap_or_default();
        Algorithm::parse(&text).map(AlgorithmArg).map_err(|_| {
            PyValueError::new_err(hashing::UnknownAlgorithm(name.to_string()).to_string())
        })
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".to_owned())
}

fn collect_items<'py>(items: &Bound<'py, PyAny>) -> PyResult<Vec<TextOrBytes<'py>>> {
    if items.is_instance_of::<PyString>() || items.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "items must be an iterable of str or bytes-like objects, not a single str or bytes",
        ));
    }
    items
        .try_iter()?
        .map(|item| TextOrBytes::extract(&item?, "each item"))
        .collect()
}

fn hash_all(py: Python<'_>, alg: Algorithm, items: &[TextOrBytes<'_>]) -> Vec<RawDigest> {
    let slices: Vec<&[u8]> = items.iter().map(TextOrBytes::as_bytes).collect();
    let total: usize = slices.iter().map(|s| s.len()).sum();
    let digest = |s: &&[u8]| RawDigest::of(alg, s);
    if total < GIL_RELEASE_BYTES {
        return slices.iter().map(digest).collect();
    }
    py.detach(|| {
        if total >= PARALLEL_BYTES && slices.len() > 1 {
            slices.par_iter().with_min_len(64).map(digest).collect()
        } else {
            slices.iter().map(digest).collect()
        }
    })
}

/// Python str of a digest, hex-encoded on the stack: no Rust String per item.
fn hex_str<'py>(py: Python<'py>, digest: &RawDigest) -> Bound<'py, PyString> {
    let mut out = [0u8; 128];
    PyString::new(py, digest.hex(&mut out))
}

/// Hex digest of `data` (bytes-like, or str as UTF-8) with md5, sha1, sha256 or sha512.
#[pyfunction]
#[pyo3(signature = (data, algorithm=AlgorithmArg(Algorithm::Sha256)))]
#[pyo3(text_signature = "(data, algorithm='sha256')")]
fn generate_hash(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    algorithm: AlgorithmArg,
) -> PyResult<String> {
    let alg = algorithm.0;
    let data = TextOrBytes::extract(data, "data")?;
    let bytes = data.as_bytes();
    if bytes.len() < GIL_RELEASE_BYTES {
        Ok(hashing::hex_digest(alg, bytes))
    } else {
        Ok(py.detach(|| hashing::hex_digest(alg, bytes)))
    }
}

/// Hex digests of every item, in order; large batches are hashed in parallel.
#[pyfunction]
#[pyo3(signature = (items, algorithm=AlgorithmArg(Algorithm::Sha256)))]
#[pyo3(text_signature = "(items, algorithm='sha256')")]
fn generate_hash_batch<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    algorithm: AlgorithmArg,
) -> PyResult<Bound<'py, PyList>> {
    let alg = algorithm.0;
    let items = collect_items(items)?;
    let digests = hash_all(py, alg, &items);
    PyList::new(py, digests.iter().map(|d| hex_str(py, d)))
}

fn expected_digest<'py>(expected: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    expected.cast::<PyString>().cloned().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected digest must be a str of hex digits, not {}",
            type_name(expected)
        ))
    })
}

/// True when `expected` (hex, any case) is the digest of `data`; compared in constant time.
#[pyfunction]
#[pyo3(signature = (data, expected, algorithm=AlgorithmArg(Algorithm::Sha256)))]
#[pyo3(text_signature = "(data, expected, algorithm='sha256')")]
fn verify_integrity(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    expected: &Bound<'_, PyAny>,
    algorithm: AlgorithmArg,
) -> PyResult<bool> {
    let alg = algorithm.0;
    let data = TextOrBytes::extract(data, "data")?;
    let expected = expected_digest(expected)?;
    // A non-ASCII or unencodable digest can never match a hex digest.
    let Ok(expected) = expected.to_str() else {
        return Ok(false);
    };
    let bytes = data.as_bytes();
    if bytes.len() < GIL_RELEASE_BYTES {
        Ok(hashing::verify(alg, bytes, expected))
    } else {
        Ok(py.detach(|| hashing::verify(alg, bytes, expected)))
    }
}

/// `verify_integrity` over paired items and digests; a length mismatch is a ValueError.
#[pyfunction]
#[pyo3(signature = (items, expected, algorithm=AlgorithmArg(Algorithm::Sha256)))]
#[pyo3(text_signature = "(items, expected, algorithm='sha256')")]
fn verify_integrity_batch<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    expected: &Bound<'py, PyAny>,
    algorithm: AlgorithmArg,
) -> PyResult<Bound<'py, PyList>> {
    let alg = algorithm.0;
    let items = collect_items(items)?;
    if expected.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "expected must be an iterable of digests, not a single str",
        ));
    }
    let digests: Vec<Bound<'py, PyString>> = expected
        .try_iter()?
        .map(|d| expected_digest(&d?))
        .collect::<PyResult<_>>()?;
    if digests.len() != items.len() {
        return Err(PyValueError::new_err(format!(
            "got {} items but {} expected digests",
            items.len(),
            digests.len()
        )));
    }
    let actual = hash_all(py, alg, &items);
    let verdicts = actual.iter().zip(&digests).map(|(actual, expected)| {
        let mut buffer = [0u8; 128];
        let actual = actual.hex(&mut buffer);
        expected.to_str().is_ok_and(|expected| {
            let expected = expected.as_bytes();
            expected.len() == actual.len() && {
                let lowered: Vec<u8> = expected.iter().map(u8::to_ascii_lowercase).collect();
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    actual.as_bytes(),
                    &lowered[..],
                ))
            }
        })
    });
    PyList::new(py, verdicts)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(generate_hash, m)?)?;
    m.add_function(wrap_pyfunction!(generate_hash_batch, m)?)?;
    m.add_function(wrap_pyfunction!(verify_integrity, m)?)?;
    m.add_function(wrap_pyfunction!(verify_integrity_batch, m)?)?;
    Ok(())
}
