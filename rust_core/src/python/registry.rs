//! RegistryCore bindings: topo_sort and detect_cycles over hashable Python nodes.
//!
//! Nodes are mapped to indices with a Python dict, on this side of the binding and with the
//! GIL held, so any hashable value is a node and equality is exactly dict-key equality, as
//! in the Python reference. The graph algorithm then runs on the indices with the GIL
//! released. CycleError is pyagent's own class (`pyagent.registry_core.CycleError`), imported
//! when raised, so both backends raise the one class.

use super::address_map::{AddressHasher, AddressMap};
use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyTuple};

use super::cache::type_name;
use super::names::stored_items;
use crate::graph::order::{self, Graph, UnknownNode};

/// The message of every CycleError, as graphlib words it.
const CYCLE_MESSAGE: &str = "nodes are in a cycle";

/// The distinct nodes in first-seen order and the edges as index pairs.
struct Indexed<'py> {
    nodes: Vec<Bound<'py, PyAny>>,
    edges: Vec<(usize, usize)>,
}

/// Node lookup: first by identity (the address of a node object held for the whole call,
/// so no other object can have it), then by value through a dict, which decides equality
/// exactly as `dict.get` does in the Python reference. Identity first is what dict lookup
/// does too, so the answer is the same; it skips reading the key object, which at a million
/// edges is most of the cost. The by-value dict (node -> index) is built on the first miss:
/// edges that reuse the node objects, the common case, never need it.
///
/// Edges read from a file or built by arithmetic hold ints equal to, but not the same objects
/// as, the nodes: every lookup then misses by address. Those go through a map of the exact-int
/// nodes by value (an exact int equals another exact int exactly when their values do), before
/// the dict, which still answers for everything else (1 == 1.0 == True, big ints, strs, ...).
pub(super) struct NodeIndex<'py> {
    py: Python<'py>,
    by_address: AddressMap<usize>,
    pub(super) nodes: Vec<Bound<'py, PyAny>>,
    by_value: OnceCell<Bound<'py, PyDict>>,
    by_int: OnceCell<HashMap<i64, usize, BuildHasherDefault<AddressHasher>>>,
}

/// The value of an exact int (not a subclass, not bool) that fits i64.
fn exact_int(node: &Bound<'_, PyAny>) -> Option<i64> {
    if !node.is_exact_instance_of::<PyInt>() {
        return None;
    }
    node.extract::<i64>().ok()
}

impl<'py> NodeIndex<'py> {
    /// Reads the distinct nodes in first-seen order; `seen` dedupes them by dict equality.
    pub(super) fn new(py: Python<'py>, nodes: &Bound<'py, PyAny>) -> PyResult<Self> {
        let hint = nodes.cast::<PyList>().map_or(0, |list| list.len());
        let mut index = NodeIndex {
            py,
            by_address: HashMap::with_capacity_and_hasher(hint, Default::default()),
            nodes: Vec::with_capacity(hint),
            by_value: OnceCell::new(),
            by_int: OnceCell::new(),
        };
        // One dict operation per node: a node is new exactly when inserting it grows the dict.
        let seen = PyDict::new(py);
        let none = py.None();
        // List/tuple/str subclasses by their stored items (docs/limits.md).
        let items = stored_items(nodes)?;
        for node in items {
            let node = node?;
            let before = seen.len();
            seen.set_item(&node, &none)?;
            if seen.len() > before {
                // Only first occurrences: `nodes` keeps them alive, so the address is theirs.
                let position = index.nodes.len();
                index.by_address.insert(node.as_ptr() as usize, position);
                index.nodes.push(node);
            }
        }
        Ok(index)
    }

    fn by_value(&self) -> PyResult<&Bound<'py, PyDict>> {
        if let Some(dict) = self.by_value.get() {
            return Ok(dict);
        }
        let dict = PyDict::new(self.py);
        for (position, node) in self.nodes.iter().enumerate() {
            dict.set_item(node, position)?;
        }
        Ok(self.by_value.get_or_init(|| dict))
    }

    pub(super) fn get(&self, node: &Bound<'py, PyAny>) -> PyResult<Option<usize>> {
        if let Some(&found) = self.by_address.get(&(node.as_ptr() as usize)) {
            return Ok(Some(found));
        }
        if let Some(value) = exact_int(node) {
            let by_int = self.by_int.get_or_init(|| {
                let mut map = HashMap::default();
                for (position, node) in self.nodes.iter().enumerate() {
                    if let Some(value) = exact_int(node) {
                        map.insert(value, position);
                    }
                }
                map
            });
            if let Some(&found) = by_int.get(&value) {
                return Ok(Some(found));
            }
            // Not an int node: it may still equal a float or bool node; the dict decides.
        }
        self.by_value()?
            .get_item(node)?
            .map(|found| found.extract::<usize>())
            .transpose()
    }
}

fn bad_edge(position: usize, edge: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!(
        "edge {position} must be a (source, target) tuple or list of length 2, not {}",
        type_name(edge)
    ))
}

fn index_graph<'py>(
    py: Python<'py>,
    nodes: &Bound<'py, PyAny>,
    edges: &Bound<'py, PyAny>,
) -> PyResult<Indexed<'py>> {
    let index = NodeIndex::new(py, nodes)?;
    let lookup = |position: usize, end: &Bound<'py, PyAny>| -> PyResult<usize> {
        match index.get(end)? {
            Some(found) => Ok(found),
            None => Err(PyKeyError::new_err(format!(
                "edge {position} names unknown node {}",
                end.repr()?
            ))),
        }
    };
    let hint = edges.cast::<PyList>().map_or(0, |list| list.len());
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(hint);
    let mut add = |position: usize, edge: &Bound<'py, PyAny>| -> PyResult<()> {
        let (source, target) = if let Ok(pair) = edge.cast::<PyTuple>() {
            if pair.len() != 2 {
                return Err(bad_edge(position, edge));
            }
            let (source, target) = (pair.get_borrowed_item(0)?, pair.get_borrowed_item(1)?);
            (lookup(position, &source)?, lookup(position, &target)?)
        } else if let Ok(pair) = edge.cast::<PyList>() {
            if pair.len() != 2 {
                return Err(bad_edge(position, edge));
            }
            let source = lookup(position, &pair.get_item(0)?)?;
            (source, lookup(position, &pair.get_item(1)?)?)
        } else {
            return Err(bad_edge(position, edge));
        };
        pairs.push((source, target));
        Ok(())
    };
    // Lists are walked by index, skipping the iterator protocol per edge.
    if let Ok(list) = edges.cast::<PyList>() {
        for (position, edge) in list.iter().enumerate() {
            add(position, &edge)?;
        }
    } else {
        for (position, edge) in stored_items(edges)?.enumerate() {
            add(position, &edge?)?;
        }
    }
    Ok(Indexed {
        nodes: index.nodes,
        edges: pairs,
    })
}

fn build(py: Python<'_>, indexed: &mut Indexed<'_>) -> PyResult<Graph> {
    let count = indexed.nodes.len();
    let edges = std::mem::take(&mut indexed.edges);
    py.detach(move || Graph::new(count, edges))
        .map_err(|UnknownNode { edge, node }| {
            // Every index came from the node dict, so this is a bug, reported, not a panic.
            PyValueError::new_err(format!("edge {edge} names node index {node} out of range"))
        })
}

fn node_list<'py>(
    py: Python<'py>,
    nodes: &[Bound<'py, PyAny>],
    indices: &[usize],
) -> PyResult<Bound<'py, PyList>> {
    let items: Vec<&Bound<'py, PyAny>> = indices.iter().filter_map(|&i| nodes.get(i)).collect();
    PyList::new(py, items)
}

fn cycle_error(py: Python<'_>, nodes: &[Bound<'_, PyAny>], cycle: &[usize]) -> PyErr {
    let raise = || -> PyResult<PyErr> {
        let class = py.import("pyagent.registry_core")?.getattr("CycleError")?;
        let exc = class.call1((CYCLE_MESSAGE, node_list(py, nodes, cycle)?))?;
        Ok(PyErr::from_value(exc))
    };
    raise().unwrap_or_else(|err| err)
}

/// The nodes in dependency order (Kahn, earliest-listed ready node first); see pyagent.
#[pyfunction]
fn topo_sort<'py>(
    py: Python<'py>,
    nodes: &Bound<'py, PyAny>,
    edges: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let mut indexed = index_graph(py, nodes, edges)?;
    let graph = build(py, &mut indexed)?;
    match py.detach(|| order::topo_sort(&graph)) {
        Ok(order) => node_list(py, &indexed.nodes, &order),
        Err(cycle) => Err(cycle_error(py, &indexed.nodes, &cycle)),
    }
}

/// Cyclic strongly connected components with a witness cycle each; see pyagent.
#[pyfunction]
fn detect_cycles<'py>(
    py: Python<'py>,
    nodes: &Bound<'py, PyAny>,
    edges: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let mut indexed = index_graph(py, nodes, edges)?;
    let graph = build(py, &mut indexed)?;
    let found = py.detach(|| order::detect_cycles(&graph));
    let rows = found
        .iter()
        .map(|(members, cycle)| {
            let members = node_list(py, &indexed.nodes, members)?;
            let cycle = node_list(py, &indexed.nodes, cycle)?;
            PyTuple::new(py, [members, cycle])
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, rows)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(topo_sort, m)?)?;
    m.add_function(wrap_pyfunction!(detect_cycles, m)?)?;
    Ok(())
}
