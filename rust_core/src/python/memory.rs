//! MemoryCore binding: search_vector_rust, exact top-k over a float32 matrix.

use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::arrays::value_error;
use super::tensors::{f32_array, f32_output, i64_output, positive_int, require_str, F32Matrix};
use crate::tensor::vector_search::{search, Metric};

fn default_metric() -> Py<PyAny> {
    Python::attach(|py| PyString::new(py, "cosine").into_any().unbind())
}

type Hits<'py> = (Bound<'py, PyArrayDyn<i64>>, Bound<'py, PyArrayDyn<f32>>);

/// The metric named by `value`. A str that is not UTF-8 (a lone surrogate) names no metric:
/// the reference's ValueError, not the UnicodeEncodeError reading it as UTF-8 would raise.
fn metric_arg(value: &Bound<'_, PyAny>) -> PyResult<Metric> {
    let text = require_str(value, "metric")?;
    match text.to_str().ok().map(Metric::parse) {
        Some(Ok(metric)) => Ok(metric),
        // The message quotes the name as Python's repr does, so both backends say the same.
        _ => Err(PyValueError::new_err(format!(
            "metric must be one of cosine, dot, l2, got {}",
            text.repr()?
        ))),
    }
}

/// `(indices, scores)` of the `top_k` best rows of `matrix` for `query` (`[d]` or `[q, d]`).
#[pyfunction]
#[pyo3(signature = (query, matrix, top_k, metric = default_metric()))]
#[pyo3(text_signature = "(query, matrix, top_k, metric='cosine')")]
fn search_vector_rust<'py>(
    py: Python<'py>,
    query: &Bound<'py, PyAny>,
    matrix: &Bound<'py, PyAny>,
    top_k: &Bound<'py, PyAny>,
    metric: Py<PyAny>,
) -> PyResult<Hits<'py>> {
    let query = f32_array(query, "query", &[1, 2])?;
    let matrix = f32_array(matrix, "matrix", &[2])?;
    let k = positive_int(top_k, "top_k")?;
    let metric = metric_arg(metric.bind(py))?;
    let single = query.ndim() == 1;
    let (q, m) = (F32Matrix::read(&query)?, F32Matrix::read(&matrix)?);
    let (qm, mm) = (q.mat(), m.mat());
    let hits = py
        .detach(|| search(qm, mm, k, metric))
        .map_err(value_error)?;
    let shape: Vec<usize> = if single {
        vec![hits.k]
    } else {
        vec![q.rows, hits.k]
    };
    Ok((
        i64_output(py, &shape, hits.indices)?,
        f32_output(py, &shape, hits.scores)?,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(search_vector_rust, m)?)?;
    Ok(())
}
