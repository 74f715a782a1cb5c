//! TelemetryCore binding: percentiles and calculate_rollups.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::arrays::{float_vector, real_number, to_numpy, value_error};
use super::names::{group_ids, str_list};
use crate::numeric::telemetry;

/// `numpy.percentile(values, qs)` (linear method) as a new float64 array, by selection.
#[pyfunction]
fn percentiles<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    qs: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let values = float_vector(values, "values")?;
    let qs = float_vector(qs, "qs")?;
    let (data, wanted) = (values.as_slice(), qs.as_slice());
    let out = py
        .detach(|| telemetry::percentiles(data, wanted))
        .map_err(value_error)?;
    Ok(to_numpy(py, out))
}

/// Per (name, bucket): count, sum, min, max, mean, as the columns of `Rollups`.
#[pyfunction]
#[pyo3(signature = (timestamps, values, bucket_seconds, names = None))]
fn calculate_rollups<'py>(
    py: Python<'py>,
    timestamps: &Bound<'py, PyAny>,
    values: &Bound<'py, PyAny>,
    bucket_seconds: &Bound<'py, PyAny>,
    names: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let timestamps = float_vector(timestamps, "timestamps")?;
    let values = float_vector(values, "values")?;
    let width = real_number(bucket_seconds, "bucket_seconds")?;
    let names = names.map(|n| str_list(n, "names")).transpose()?;
    let (keys, groups) = match &names {
        Some(names) => {
            let (keys, groups) = group_ids(names)?;
            (Some(keys), Some(groups))
        }
        None => (None, None),
    };
    let group_count = keys.as_ref().map_or(1, Vec::len);
    let (ts, vs) = (timestamps.as_slice(), values.as_slice());
    let rows = py
        .detach(|| telemetry::rollups(groups.as_deref(), group_count, ts, vs, width))
        .map_err(value_error)?;
    let name_column = PyList::empty(py);
    for row in &rows {
        match &keys {
            Some(keys) => name_column.append(keys[row.group])?,
            None => name_column.append(py.None())?,
        }
    }
    let column = |f: fn(&telemetry::Rollup) -> f64| to_numpy(py, rows.iter().map(f).collect());
    let counts: Vec<i64> = rows
        .iter()
        .map(|r| i64::try_from(r.count).unwrap_or(i64::MAX))
        .collect();
    let out = PyDict::new(py);
    out.set_item("name", name_column)?;
    out.set_item("bucket_start", column(|r| r.bucket_start))?;
    out.set_item("count", PyArray1::from_vec(py, counts))?;
    out.set_item("sum", column(|r| r.sum))?;
    out.set_item("min", column(|r| r.min))?;
    out.set_item("max", column(|r| r.max))?;
    out.set_item("mean", column(|r| r.mean))?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(percentiles, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_rollups, m)?)?;
    Ok(())
}
