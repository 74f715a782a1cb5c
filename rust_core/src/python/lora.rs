//! LoRACore and InferenceCore bindings: merge_weights, apply_adapter, apply_lora_rust.
//!
//! Each function makes the reference's checks in the reference's order (so the first bad
//! argument raises the same class), validates everything, and only then borrows outputs
//! and runs the kernel with the GIL released.

use numpy::{PyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple};

use super::arrays::{real_number, value_error};
use super::tensors::{
    f32_array, f32_output, f32_zeros, may_share, positive_int, require_bool, require_str,
    require_writeable, F32Matrix, Target,
};
use crate::tensor::lora::{self, Adapter};

fn default_false() -> Py<PyAny> {
    Python::attach(|py| PyBool::new(py, false).to_owned().into_any().unbind())
}

/// `base + scaling * (lora_b @ lora_a)`, fused; in place when `inplace` is True.
#[pyfunction]
#[pyo3(signature = (base, lora_a, lora_b, scaling, *, inplace = default_false()))]
#[pyo3(text_signature = "(base, lora_a, lora_b, scaling, *, inplace=False)")]
fn merge_weights<'py>(
    py: Python<'py>,
    base: &Bound<'py, PyAny>,
    lora_a: &Bound<'py, PyAny>,
    lora_b: &Bound<'py, PyAny>,
    scaling: &Bound<'py, PyAny>,
    inplace: Py<PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let base = f32_array(base, "base", &[2])?;
    let a_array = f32_array(lora_a, "lora_a", &[2])?;
    let b_array = f32_array(lora_b, "lora_b", &[2])?;
    let scaling = real_number(scaling, "scaling")?;
    let inplace = require_bool(inplace.bind(py), "inplace")?;
    let a = F32Matrix::read(&a_array)?;
    let b = F32Matrix::read(&b_array)?;
    let shape = base.shape().to_vec();
    let (rows, cols) = (shape[0], shape[1]);
    let scale = lora::validate_merge(rows, cols, a.mat(), b.mat(), scaling).map_err(value_error)?;
    let coef: Vec<f32> = b.as_slice().iter().map(|v| v * scale).collect();
    let coef = lora::Mat {
        data: &coef,
        rows,
        cols: a.rows,
    };
    let a_mat = a.mat();
    if inplace {
        require_writeable(
            &base,
            "base is read-only; pass inplace=False or a writeable array",
        )?;
        for (name, other) in [("lora_a", &a_array), ("lora_b", &b_array)] {
            if may_share(&base, other) {
                return Err(PyValueError::new_err(format!(
                    "base shares memory with {name}; cannot merge in place"
                )));
            }
        }
        let mut target = Target::borrow(&base)?;
        let dst = target.slice();
        py.detach(|| lora::merge_into(dst, None, coef, a_mat))
            .map_err(value_error)?;
        target.finish();
        return Ok(base);
    }
    let source = F32Matrix::read(&base)?;
    let src = source.as_slice();
    let out = f32_zeros(py, &shape);
    let mut target = Target::borrow(&out)?;
    let dst = target.slice();
    py.detach(|| lora::merge_into(dst, Some(src), coef, a_mat))
        .map_err(value_error)?;
    target.finish();
    Ok(out)
}

/// The LoRA forward delta `scaling * (x @ lora_a.T) @ lora_b.T` as a new float32 array.
#[pyfunction]
fn apply_adapter<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    lora_a: &Bound<'py, PyAny>,
    lora_b: &Bound<'py, PyAny>,
    scaling: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let x = f32_array(x, "x", &[2])?;
    let a = f32_array(lora_a, "lora_a", &[2])?;
    let b = f32_array(lora_b, "lora_b", &[2])?;
    let scaling = real_number(scaling, "scaling")?;
    let (x, a, b) = (
        F32Matrix::read(&x)?,
        F32Matrix::read(&a)?,
        F32Matrix::read(&b)?,
    );
    let (xm, am, bm) = (x.mat(), a.mat(), b.mat());
    let out = py
        .detach(|| lora::apply_adapter(xm, am, bm, scaling))
        .map_err(value_error)?;
    f32_output(py, &[x.rows, b.rows], out)
}

/// One adapter, checked: the module it targets, its factors and scale.
struct Checked<'py> {
    module: Bound<'py, PyAny>,
    weight: Bound<'py, PyArrayDyn<f32>>,
    a_array: Bound<'py, PyArrayDyn<f32>>,
    b_array: Bound<'py, PyArrayDyn<f32>>,
    scale: f32,
}

/// A ValueError whose message starts with the module name as Python spells it: joined as
/// Python strings, since a name with a lone surrogate has no UTF-8 (Rust) form.
fn module_error(module: &Bound<'_, PyString>, rest: String) -> PyErr {
    match module.add(rest) {
        Ok(message) => PyValueError::new_err(message.unbind()),
        Err(err) => err,
    }
}

fn check_adapter<'py>(
    adapter: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyDict>,
) -> PyResult<Checked<'py>> {
    let module = require_str(&adapter.getattr("module")?, "adapter module")?;
    let Some(weight) = weights.get_item(&module)? else {
        return Err(PyKeyError::new_err(module.unbind()));
    };
    let weight = f32_array(&weight, &format!("weights[{}]", module.repr()?), &[2])?;
    let a_array = f32_array(&adapter.getattr("lora_a")?, "lora_a", &[2])?;
    let b_array = f32_array(&adapter.getattr("lora_b")?, "lora_b", &[2])?;
    let alpha = real_number(&adapter.getattr("alpha")?, "alpha")?;
    let rank = positive_int(&adapter.getattr("rank")?, "rank")?;
    let use_rslora = require_bool(&adapter.getattr("use_rslora")?, "use_rslora")?;
    let (a_shape, b_shape) = (a_array.shape().to_vec(), b_array.shape().to_vec());
    let w_shape = weight.shape().to_vec();
    if a_shape[0] != rank {
        return Err(module_error(
            &module,
            format!(": rank is {rank} but lora_a has {} rows", a_shape[0]),
        ));
    }
    if a_shape[1] != w_shape[1] || b_shape != [w_shape[0], rank] {
        return Err(module_error(
            &module,
            format!(": weight {w_shape:?} does not fit lora_a {a_shape:?} and lora_b {b_shape:?}"),
        ));
    }
    if !alpha.is_finite() {
        return Err(PyValueError::new_err(format!(
            "alpha must be finite, got {alpha:?}"
        )));
    }
    let scale =
        lora::scale_f32(lora::lora_scale(alpha, rank, use_rslora), "scale").map_err(value_error)?;
    let a = F32Matrix::read(&a_array)?;
    lora::require_finite_f32(a.as_slice(), "lora_a").map_err(value_error)?;
    let b = F32Matrix::read(&b_array)?;
    lora::require_finite_f32(b.as_slice(), "lora_b").map_err(value_error)?;
    Ok(Checked {
        module: module.into_any(),
        weight,
        a_array,
        b_array,
        scale,
    })
}

/// Merges every adapter into the named weights; a new dict (see pyagent.inference_core).
#[pyfunction]
#[pyo3(signature = (weights, adapters, *, inplace = default_false()))]
#[pyo3(text_signature = "(weights, adapters, *, inplace=False)")]
fn apply_lora_rust<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyAny>,
    adapters: &Bound<'py, PyAny>,
    inplace: Py<PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let Ok(weights) = weights.cast::<PyDict>() else {
        return Err(PyTypeError::new_err(format!(
            "weights must be a dict, not {}",
            weights.get_type().name()?
        )));
    };
    let items: Vec<Bound<'py, PyAny>> = if let Ok(list) = adapters.cast::<PyList>() {
        list.iter().collect()
    } else if let Ok(tuple) = adapters.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Err(PyTypeError::new_err(format!(
            "adapters must be a list or tuple, not {}",
            adapters.get_type().name()?
        )));
    };
    let inplace = require_bool(inplace.bind(py), "inplace")?;
    let checked = items
        .iter()
        .map(|adapter| check_adapter(adapter, weights))
        .collect::<PyResult<Vec<_>>>()?;
    // Modules in order of first appearance, each with its adapters in order.
    let mut groups: Vec<(Bound<'py, PyAny>, Vec<usize>)> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|(m, _)| m.eq(&c.module).unwrap_or(false))
        {
            Some((_, members)) => members.push(i),
            None => groups.push((c.module.clone(), vec![i])),
        }
    }
    if inplace {
        for (g, (module, members)) in groups.iter().enumerate() {
            let weight = &checked[members[0]].weight;
            require_writeable(
                weight,
                &format!("weights[{module}] is read-only; pass inplace=False"),
            )?;
            let later = groups[g + 1..].iter().map(|(_, m)| &checked[m[0]].weight);
            let factors = checked.iter().flat_map(|c| [&c.a_array, &c.b_array]);
            if later.chain(factors).any(|other| may_share(weight, other)) {
                return Err(PyValueError::new_err(format!(
                    "weights[{module}] shares memory with another merged array"
                )));
            }
        }
    }
    let merged = weights.copy()?;
    for (module, members) in &groups {
        let weight = &checked[members[0]].weight;
        let factors = members
            .iter()
            .map(|&i| {
                Ok((
                    F32Matrix::read(&checked[i].a_array)?,
                    F32Matrix::read(&checked[i].b_array)?,
                    checked[i].scale,
                ))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let adapters: Vec<Adapter> = factors
            .iter()
            .map(|(a, b, scale)| Adapter {
                a: a.mat(),
                b: b.mat(),
                scale: *scale,
            })
            .collect();
        let shape = weight.shape().to_vec();
        let (rows, cols) = (shape[0], shape[1]);
        if inplace {
            let mut target = Target::borrow(weight)?;
            let dst = target.slice();
            py.detach(|| lora::merge_adapters(dst, None, rows, cols, &adapters))
                .map_err(value_error)?;
            target.finish();
        } else {
            let source = F32Matrix::read(weight)?;
            let src = source.as_slice();
            let out = f32_zeros(py, &shape);
            let mut target = Target::borrow(&out)?;
            let dst = target.slice();
            py.detach(|| lora::merge_adapters(dst, Some(src), rows, cols, &adapters))
                .map_err(value_error)?;
            target.finish();
            merged.set_item(module, out)?;
        }
    }
    Ok(merged)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(merge_weights, m)?)?;
    m.add_function(wrap_pyfunction!(apply_adapter, m)?)?;
    m.add_function(wrap_pyfunction!(apply_lora_rust, m)?)?;
    Ok(())
}
