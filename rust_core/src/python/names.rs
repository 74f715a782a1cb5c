//! Sequences of str names: checked as `pyagent._numeric.str_list` checks them, and grouped.

use super::address_map::AddressMap;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use rayon::prelude::*;

/// The items of `obj` as docs/limits.md ("Hostile arguments") says: a list or tuple
/// (subclasses too) by its stored items and a str subclass by its stored text, never through
/// an overridden `__iter__`; any other object through its iterator (what that raises
/// propagates).
pub fn stored_items<'py>(
    obj: &Bound<'py, PyAny>,
) -> PyResult<Box<dyn Iterator<Item = PyResult<Bound<'py, PyAny>>> + 'py>> {
    if let Ok(list) = obj.cast::<PyList>() {
        let items: Vec<Bound<'py, PyAny>> = list.iter().collect();
        return Ok(Box::new(items.into_iter().map(Ok)));
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        let items: Vec<Bound<'py, PyAny>> = tuple.iter().collect();
        return Ok(Box::new(items.into_iter().map(Ok)));
    }
    if obj.is_instance_of::<PyBytes>() && !obj.is_exact_instance_of::<PyBytes>() {
        // A bytes subclass by its buffer (its ints, as iterating bytes gives).
        let view = obj
            .py()
            .import("builtins")?
            .getattr("memoryview")?
            .call1((obj,))?;
        return Ok(Box::new(view.try_iter()?));
    }
    if obj.is_instance_of::<PyString>() && !obj.is_exact_instance_of::<PyString>() {
        let text = obj
            .py()
            .get_type::<PyString>()
            .call_method1("__str__", (obj,))?;
        return Ok(Box::new(text.try_iter()?));
    }
    Ok(Box::new(obj.try_iter()?))
}

/// `list(names)` with a type check per item, as `pyagent._numeric.str_list`.
pub fn str_list<'py>(names: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyString>>> {
    if names.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a sequence of str, not a single str"
        )));
    }
    let items = stored_items(names).map_err(|err| {
        if !err.is_instance_of::<PyTypeError>(names.py()) {
            return err; // what __iter__ raised propagates, as in Python
        }
        PyTypeError::new_err(format!(
            "{what} must be a sequence of str, not {}",
            names
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        match item.cast_into::<PyString>() {
            Ok(name) => out.push(name),
            Err(err) => {
                return Err(PyTypeError::new_err(format!(
                    "{what} must hold str, not {}",
                    err.into_inner().get_type().name()?
                )))
            }
        }
    }
    Ok(out)
}

/// Lists at least this long are scanned by [`single_name`] on rayon's threads.
const PARALLEL_NAMES: usize = 1 << 17;
/// Addresses compared per step of [`single_name`] (a branch-free fold that vectorises).
const NAME_CHUNK: usize = 1 << 12;

/// The one str object a list holds at every index (`[name] * n`, a recorder reusing its
/// name), found by comparing addresses only; None for anything else, including an empty list.
pub fn single_name<'py>(names: &Bound<'py, PyAny>) -> Option<Bound<'py, PyString>> {
    let list = names.cast_exact::<PyList>().ok()?;
    let first = list.get_item(0).ok()?.cast_into::<PyString>().ok()?;
    let first_address = first.as_ptr() as usize;
    // SAFETY: an exact list's item array holds `len` object pointers (len >= 1: item 0 was
    // read). The GIL stays held for the whole scan and no Python code runs during it: the
    // calling thread waits for rayon's threads, which only read the addresses (never
    // dereferencing them), so the list cannot change meanwhile.
    let items: &[usize] = unsafe {
        let raw = (*list.as_ptr().cast::<pyo3::ffi::PyListObject>()).ob_item;
        std::slice::from_raw_parts(raw.cast::<usize>().cast_const(), list.len())
    };
    let all_first = |chunk: &[usize]| chunk.iter().fold(true, |ok, &p| ok & (p == first_address));
    let same = if items.len() >= PARALLEL_NAMES {
        items.par_chunks(NAME_CHUNK).all(all_first)
    } else {
        items.chunks(NAME_CHUNK).all(all_first)
    };
    same.then_some(first)
}

/// Group id of every name (ids in first-seen order) and the first object seen per id.
///
/// The same str object repeats in practice, so its address is tried first; otherwise a dict
/// lookup, which is Python's own str equality (lone surrogates and str subclasses included).
pub fn group_ids<'a, 'py>(
    names: &'a [Bound<'py, PyString>],
) -> PyResult<(Vec<&'a Bound<'py, PyString>>, Vec<usize>)> {
    let Some(first) = names.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let first_seen = PyDict::new(first.py());
    let mut by_address = AddressMap::<usize>::default();
    let mut keys: Vec<&Bound<'py, PyString>> = Vec::new();
    let mut groups = Vec::with_capacity(names.len());
    let mut last: Option<(usize, usize)> = None;
    for name in names {
        let address = name.as_ptr() as usize;
        // Runs of one object (a recorder reusing its name) skip the map entirely.
        if let Some((last_address, last_id)) = last {
            if last_address == address {
                groups.push(last_id);
                continue;
            }
        }
        let id = match by_address.get(&address) {
            Some(&id) => id,
            None => {
                let id = match first_seen.get_item(name)? {
                    Some(id) => id.extract::<usize>()?,
                    None => {
                        first_seen.set_item(name, keys.len())?;
                        keys.push(name);
                        keys.len() - 1
                    }
                };
                // `names` keeps every object alive, so an address cannot be reused meanwhile.
                by_address.insert(address, id);
                id
            }
        };
        last = Some((address, id));
        groups.push(id);
    }
    Ok((keys, groups))
}
