//! ValidationCore: the `jsonschema` engine reading Python objects in place.
//!
//! `is_valid` used to convert every instance to a `serde_json::Value` (an allocation per
//! string, a B-tree per dict) before the engine looked at it; that conversion cost more than
//! the validation. The engine is generic over its JSON representation (`jsonschema::json`),
//! so here it reads the Python objects themselves, as jsonschema-rs does.
//!
//! The view is used only for instances made of the exact built-in JSON types (dict with exact
//! `str` keys, list, str, int, float, bool, None): `plain` walks the instance first, applying
//! the reference's checks in the reference's order (so bad input raises what the conversion
//! raised) and saying whether the instance is plain. Anything else (a subclass, whose hashing
//! or comparison could run Python code) takes the conversion. The GIL is held throughout: no
//! Python code runs between the check and the validation, so the checked objects cannot
//! change, and every node is borrowed from the caller's instance, alive for the whole call.

use std::borrow::Cow;
use std::marker::PhantomData;

use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::{Number, Value};

/// The representation: borrowed Python objects (`jsonschema::json::Json`).
pub struct PyView;

/// One node: a borrowed pointer into the instance being validated (checked by [`plain`]).
#[derive(Clone, Copy)]
pub struct PyNode<'a> {
    ptr: *mut ffi::PyObject,
    life: PhantomData<&'a ffi::PyObject>,
}

/// A property name prepared at compile time: an interned str, so dict lookups compare by
/// pointer first and its hash is cached.
pub struct PreparedKey(Py<PyString>);

impl Json for PyView {
    type Node<'a> = PyNode<'a>;
    type PreparedKey = PreparedKey;
    type StringBuffer = ();

    fn prepare_key(key: &str) -> PreparedKey {
        Python::attach(|py| PreparedKey(PyString::intern(py, key).unbind()))
    }

    /// `propertyNames`: the name as a new str, alive while `f` runs.
    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(PyNode<'_>) -> T) -> T {
        Python::attach(|py| {
            let name = PyString::new(py, string);
            f(PyNode::new(name.as_ptr()))
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    List,
    Dict,
}

impl<'a> PyNode<'a> {
    fn new(ptr: *mut ffi::PyObject) -> Self {
        PyNode {
            ptr,
            life: PhantomData,
        }
    }

    /// The node's type; [`plain`] admitted only these exact types.
    #[inline]
    fn kind(self) -> Kind {
        // SAFETY: ptr is a live object of the instance (see the module doc).
        let ty = unsafe { ffi::Py_TYPE(self.ptr) };
        if ty == &raw mut ffi::PyDict_Type {
            Kind::Dict
        } else if ty == &raw mut ffi::PyUnicode_Type {
            Kind::Str
        } else if ty == &raw mut ffi::PyList_Type {
            Kind::List
        } else if ty == &raw mut ffi::PyLong_Type {
            Kind::Int
        } else if ty == &raw mut ffi::PyFloat_Type {
            Kind::Float
        } else if ty == &raw mut ffi::PyBool_Type {
            Kind::Bool
        } else {
            Kind::Null
        }
    }

    /// The UTF-8 of a str node ([`plain`] has made sure it has one).
    fn text(self) -> &'a str {
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: a live exact str; its UTF-8 lives as long as the object, which outlives 'a.
        unsafe {
            let data = ffi::PyUnicode_AsUTF8AndSize(self.ptr, &mut size);
            if data.is_null() {
                ffi::PyErr_Clear();
                return "";
            }
            let bytes = std::slice::from_raw_parts(data.cast::<u8>(), size as usize);
            std::str::from_utf8_unchecked(bytes)
        }
    }

    fn number(self) -> Option<Number> {
        match self.kind() {
            Kind::Int => {
                // SAFETY: a live exact int that fits in i64 or u64 ([`plain`] checked).
                let small = unsafe { ffi::PyLong_AsLongLong(self.ptr) };
                if small == -1 && unsafe { !ffi::PyErr_Occurred().is_null() } {
                    unsafe { ffi::PyErr_Clear() };
                    let big = unsafe { ffi::PyLong_AsUnsignedLongLong(self.ptr) };
                    if unsafe { !ffi::PyErr_Occurred().is_null() } {
                        unsafe { ffi::PyErr_Clear() };
                        return None;
                    }
                    return Some(big.into());
                }
                Some(small.into())
            }
            // SAFETY: a live exact float ([`plain`] checked it is finite).
            Kind::Float => Number::from_f64(unsafe { ffi::PyFloat_AS_DOUBLE(self.ptr) }),
            _ => None,
        }
    }
}

impl<'a> Node<'a, PyView> for PyNode<'a> {
    type Object = PyObjectView<'a>;
    type Array = PyArrayView<'a>;
    type Number = Number;

    fn as_object(&self) -> Option<PyObjectView<'a>> {
        (self.kind() == Kind::Dict).then_some(PyObjectView(*self))
    }

    fn as_array(&self) -> Option<PyArrayView<'a>> {
        (self.kind() == Kind::List).then_some(PyArrayView(*self))
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        (self.kind() == Kind::Str).then(|| Cow::Borrowed(self.text()))
    }

    fn as_number(&self) -> Option<Number> {
        self.number()
    }

    fn is_number(&self) -> bool {
        matches!(self.kind(), Kind::Int | Kind::Float)
    }

    fn as_boolean(&self) -> Option<bool> {
        // SAFETY: comparing pointers only.
        (self.kind() == Kind::Bool).then(|| self.ptr == unsafe { ffi::Py_True() })
    }

    fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }

    fn json_type(&self) -> JsonType {
        match self.kind() {
            Kind::Null => JsonType::Null,
            Kind::Bool => JsonType::Boolean,
            Kind::Int | Kind::Float => JsonType::Number,
            Kind::Str => JsonType::String,
            Kind::List => JsonType::Array,
            Kind::Dict => JsonType::Object,
        }
    }

    /// Code points: a str's length (no lone surrogates: [`plain`] checked).
    fn string_length(&self) -> Option<u64> {
        // SAFETY: a live exact str.
        (self.kind() == Kind::Str)
            .then(|| unsafe { ffi::PyUnicode_GetLength(self.ptr) }.max(0) as u64)
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        self.string_length()
            .map(|length| (min..=max).contains(&length))
    }

    /// The converted value, for the engine's cold paths (`const`, `enum`, `uniqueItems`).
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(view_value(*self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(self.ptr as usize))
    }
}

fn view_value(node: PyNode<'_>) -> Value {
    match node.kind() {
        Kind::Null => Value::Null,
        Kind::Bool => Value::Bool(node.as_boolean().unwrap_or(false)),
        Kind::Int | Kind::Float => node.number().map_or(Value::Null, Value::Number),
        Kind::Str => Value::String(node.text().to_owned()),
        Kind::List => Value::Array(PyArrayView(node).elements().map(view_value).collect()),
        Kind::Dict => Value::Object(
            PyMembers::new(node)
                .map(|(name, value)| (name.to_owned(), view_value(value)))
                .collect(),
        ),
    }
}

/// A dict node.
pub struct PyObjectView<'a>(PyNode<'a>);

/// A dict's members in insertion order, read with `PyDict_Next` (borrowed references).
pub struct PyMembers<'a> {
    dict: PyNode<'a>,
    pos: ffi::Py_ssize_t,
}

impl<'a> PyMembers<'a> {
    fn new(dict: PyNode<'a>) -> Self {
        PyMembers { dict, pos: 0 }
    }
}

impl<'a> Iterator for PyMembers<'a> {
    type Item = (&'a str, PyNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: a live dict that nothing mutates during the call (the GIL is held and no
        // Python code runs); the key is an exact str ([`plain`] checked).
        let found =
            unsafe { ffi::PyDict_Next(self.dict.ptr, &mut self.pos, &mut key, &mut value) } != 0;
        found.then(|| (PyNode::new(key).text(), PyNode::new(value)))
    }
}

impl<'a> Object<'a, PyView> for PyObjectView<'a> {
    type Node = PyNode<'a>;
    type MemberName = &'a str;
    type MembersIter = PyMembers<'a>;

    fn len(&self) -> usize {
        // SAFETY: a live dict.
        unsafe { ffi::PyDict_Size(self.0.ptr) }.max(0) as usize
    }

    fn get(&self, key: &PreparedKey) -> Option<PyNode<'a>> {
        // SAFETY: a live dict whose keys are all exact str ([`plain`] checked), so the lookup
        // compares str data and runs no Python code.
        let value = unsafe { ffi::PyDict_GetItemWithError(self.0.ptr, key.0.as_ptr()) };
        if value.is_null() {
            // SAFETY: with the GIL held.
            if unsafe { !ffi::PyErr_Occurred().is_null() } {
                unsafe { ffi::PyErr_Clear() };
            }
            return None;
        }
        Some(PyNode::new(value))
    }

    fn members(&self) -> PyMembers<'a> {
        PyMembers::new(self.0)
    }
}

/// A list node.
pub struct PyArrayView<'a>(PyNode<'a>);

/// A list's items, read by index (borrowed references).
pub struct PyItems<'a> {
    list: PyNode<'a>,
    index: ffi::Py_ssize_t,
    len: ffi::Py_ssize_t,
}

impl<'a> Iterator for PyItems<'a> {
    type Item = PyNode<'a>;

    fn next(&mut self) -> Option<PyNode<'a>> {
        if self.index >= self.len {
            return None;
        }
        // SAFETY: index < len of a live list nothing mutates during the call.
        let item = unsafe { ffi::PyList_GET_ITEM(self.list.ptr, self.index) };
        self.index += 1;
        Some(PyNode::new(item))
    }
}

impl<'a> Array<'a, PyView> for PyArrayView<'a> {
    type Node = PyNode<'a>;
    type ElementsIter = PyItems<'a>;

    fn len(&self) -> usize {
        // SAFETY: a live list.
        unsafe { ffi::PyList_GET_SIZE(self.0.ptr) }.max(0) as usize
    }

    fn elements(&self) -> PyItems<'a> {
        PyItems {
            list: self.0,
            index: 0,
            // SAFETY: a live list.
            len: unsafe { ffi::PyList_GET_SIZE(self.0.ptr) },
        }
    }
}

/// The root node for `instance`, which the caller keeps alive (and unchanged) for as long as
/// the node is used.
pub fn root<'a>(instance: &'a Bound<'_, PyAny>) -> PyNode<'a> {
    PyNode::new(instance.as_ptr())
}
