//! The Python binding `lateint_ref._native`: the only file that knows PyO3. It extracts arrays,
//! releases the GIL for the computation (R-MAXSIM-14) and maps `Error` to the Python classes of
//! `lateint_ref.errors` in one place (`to_py`).

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::documents::{Docs, DocumentSet};
use crate::kernel::Isa;
use crate::packed::Packed;
use crate::{Error, maxsim as scoring, search, threads};

/// The Python class of an error: every input fault is an `InputError`; a failure to start
/// threads is a plain `LateIntError`; an allocation that cannot be made is a `MemoryError`.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let class = match e {
        Error::ThreadPool { .. } => "LateIntError",
        Error::Memory { .. } => return PyMemoryError::new_err(message),
        _ => "InputError",
    };
    let cls = py
        .import("lateint_ref.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
    match cls {
        Ok(cls) => PyErr::from_type(cls, message),
        Err(lookup_error) => lookup_error,
    }
}

/// Documents stored once for repeated scoring: `DocumentSet(vectors [n_tokens, dim] f32,
/// offsets [n_docs + 1] i64, storage "float32" | "bfloat16")`.
#[pyclass(frozen, name = "DocumentSet", module = "lateint_ref._native")]
struct PyDocumentSet {
    inner: DocumentSet,
}

#[pymethods]
impl PyDocumentSet {
    #[new]
    fn new(
        py: Python<'_>,
        vectors: PyReadonlyArray2<'_, f32>,
        offsets: PyReadonlyArray1<'_, i64>,
        storage: &str,
    ) -> PyResult<Self> {
        let dim = vectors.shape()[1];
        let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
        let inner = py
            .detach(|| DocumentSet::new(data, dim, offs, storage))
            .map_err(|e| to_py(py, e))?;
        Ok(PyDocumentSet { inner })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn storage(&self) -> &'static str {
        self.inner.storage()
    }

    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.nbytes()
    }

    #[getter]
    fn offsets<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let v: Vec<i64> = self.inner.offsets().iter().map(|&o| o as i64).collect();
        v.into_pyarray(py)
    }

    fn __len__(&self) -> usize {
        self.inner.offsets().len() - 1
    }
}

/// Documents as passed from Python: a stored set, or a packed `(vectors, offsets)` pair.
#[derive(FromPyObject)]
enum DocsArg<'py> {
    Set(PyRef<'py, PyDocumentSet>),
    Packed((PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, i64>)),
}

fn contiguous<'a>(a: &'a PyReadonlyArray2<'_, f32>) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| PyRuntimeError::new_err("internal: array is not C-contiguous"))
}

fn contiguous1<'a>(a: &'a PyReadonlyArray1<'_, i64>) -> PyResult<&'a [i64]> {
    a.as_slice()
        .map_err(|_| PyRuntimeError::new_err("internal: array is not C-contiguous"))
}

/// Resolves the instruction set: the best one, or a named one this CPU supports (for tests).
fn pick_isa(isa: Option<&str>) -> PyResult<Isa> {
    match isa {
        None => Ok(Isa::detect()),
        Some(name) => Isa::by_name(name).ok_or_else(|| {
            PyRuntimeError::new_err(format!("instruction set {name:?} is not available"))
        }),
    }
}

/// Validates the inputs, then runs `f(isa, queries, docs)` with the GIL released.
fn run<T: Send>(
    py: Python<'_>,
    q_vectors: PyReadonlyArray2<'_, f32>,
    q_offsets: PyReadonlyArray1<'_, i64>,
    docs: DocsArg<'_>,
    n_threads: Option<i64>,
    isa: Option<&str>,
    f: impl Fn(Isa, &Packed, &Docs) -> Result<T, Error> + Send + Sync,
) -> PyResult<T> {
    let isa = pick_isa(isa)?;
    let q_dim = q_vectors.shape()[1];
    let (q_data, q_offs) = (contiguous(&q_vectors)?, contiguous1(&q_offsets)?);
    let pool = threads::check(n_threads).map_err(|e| to_py(py, e))?;
    let result = match &docs {
        DocsArg::Set(set) => {
            let set = &set.inner;
            py.detach(|| {
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || f(isa, &queries, &set.view()))?
            })
        }
        DocsArg::Packed((vectors, offsets)) => {
            let d_dim = vectors.shape()[1];
            let (d_data, d_offs) = (contiguous(vectors)?, contiguous1(offsets)?);
            py.detach(|| {
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || {
                    let packed = Packed::new("document", d_data, d_dim, d_offs)?;
                    f(isa, &queries, &Docs::from_packed(&packed))
                })?
            })
        }
    };
    result.map_err(|e| to_py(py, e))
}

/// `maxsim(q_vectors [Nq, dim] f32, q_offsets [n_queries + 1] i64, docs, threads, isa)`
/// -> `[n_queries, n_docs] f32`.
#[pyfunction]
#[pyo3(signature = (q_vectors, q_offsets, docs, threads=None, isa=None))]
fn maxsim<'py>(
    py: Python<'py>,
    q_vectors: PyReadonlyArray2<'py, f32>,
    q_offsets: PyReadonlyArray1<'py, i64>,
    docs: DocsArg<'py>,
    threads: Option<i64>,
    isa: Option<&str>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let nq = q_offsets.len().saturating_sub(1);
    let (scores, nd) = run(
        py,
        q_vectors,
        q_offsets,
        docs,
        threads,
        isa,
        scoring::maxsim,
    )?;
    matrix(py, scores, nq, nd)
}

fn matrix<T: numpy::Element>(
    py: Python<'_>,
    v: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'_, PyArray2<T>>> {
    Array2::from_shape_vec((rows, cols), v)
        .map(|a| a.into_pyarray(py))
        .map_err(|e| PyRuntimeError::new_err(format!("internal: {e}")))
}

/// `maxsim_pairwise(q_vectors, q_offsets, docs, threads, isa)` -> `[n] f32`.
#[pyfunction]
#[pyo3(signature = (q_vectors, q_offsets, docs, threads=None, isa=None))]
fn maxsim_pairwise<'py>(
    py: Python<'py>,
    q_vectors: PyReadonlyArray2<'py, f32>,
    q_offsets: PyReadonlyArray1<'py, i64>,
    docs: DocsArg<'py>,
    threads: Option<i64>,
    isa: Option<&str>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    Ok(run(
        py,
        q_vectors,
        q_offsets,
        docs,
        threads,
        isa,
        scoring::maxsim_pairwise,
    )?
    .into_pyarray(py))
}

/// `search_exact(q_vectors, q_offsets, docs, k, threads, isa)` -> (scores `[n_queries, k'] f32`,
/// indices `[n_queries, k'] i64`).
#[pyfunction]
#[pyo3(signature = (q_vectors, q_offsets, docs, k, threads=None, isa=None))]
#[allow(clippy::type_complexity)]
fn search_exact<'py>(
    py: Python<'py>,
    q_vectors: PyReadonlyArray2<'py, f32>,
    q_offsets: PyReadonlyArray1<'py, i64>,
    docs: DocsArg<'py>,
    k: i64,
    threads: Option<i64>,
    isa: Option<&str>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<i64>>)> {
    let nq = q_offsets.len().saturating_sub(1);
    let (scores, indices, kk) = run(py, q_vectors, q_offsets, docs, threads, isa, |isa, q, d| {
        search::search_exact(isa, q, d, k)
    })?;
    Ok((matrix(py, scores, nq, kk)?, matrix(py, indices, nq, kk)?))
}

/// The instruction sets this CPU supports, best last.
#[pyfunction]
fn available_isas() -> Vec<&'static str> {
    Isa::available().into_iter().map(Isa::name).collect()
}

/// Whether the AVX512_BF16 dot product serves bfloat16 storage on this CPU.
#[pyfunction]
fn has_bf16_dot() -> bool {
    crate::kernel::has_bf16_dot()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDocumentSet>()?;
    m.add_function(wrap_pyfunction!(maxsim, m)?)?;
    m.add_function(wrap_pyfunction!(maxsim_pairwise, m)?)?;
    m.add_function(wrap_pyfunction!(search_exact, m)?)?;
    m.add_function(wrap_pyfunction!(available_isas, m)?)?;
    m.add_function(wrap_pyfunction!(has_bf16_dot, m)?)?;
    Ok(())
}
