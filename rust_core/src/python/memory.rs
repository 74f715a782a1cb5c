//! MemoryCore binding: search_vector_rust, exact top-k over a float32 matrix.

use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::arrays::value_error;
use super::tensors::{f32_array, f32_output, i64_output, positive_int, require_str, F32Matrix};
use crate::tensor::vector_search::{search, Metric};

fn default_metric() -> Py<PyAny> {
    Python::attach(|py| PyString::new(py, "cosine").into_any().unbind())
}

type Hits<'py> = (Bound<'py, PyArrayDyn<i64>>, Bound<'py, PyArrayDyn<f32>>);

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
    let metric =
        Metric::parse(require_str(metric.bind(py), "metric")?.to_str()?).map_err(value_error)?;
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
