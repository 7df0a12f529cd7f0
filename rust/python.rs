//! The Python binding `lateint_ref._native`: the only file that knows PyO3. It extracts arrays,
//! releases the GIL for the computation (R-MAXSIM-14) and maps `Error` to the Python classes of
//! `lateint_ref.errors` in one place (`to_py`).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyType};

use crate::documents::{Docs, DocumentSet};
use crate::index::format::Ids;
use crate::index::{Index, build as index_build, search as index_search, stream as index_stream};
use crate::kernel::Isa;
use crate::packed::Packed;
use crate::{Error, maxsim as scoring, search, threads};

/// The Python class of an error: every input fault is an `InputError`; a failure to start
/// threads is a plain `LateIntError`; an allocation that cannot be made is a `MemoryError`.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let class = match e {
        Error::ThreadPool { .. } => "LateIntError",
        Error::Format { .. } => "IndexFormatError",
        Error::Io { .. } => "IndexWriteError",
        Error::Locked { .. } => "IndexLockedError",
        Error::Memory { .. } => return PyMemoryError::new_err(message),
        // Raised in place of the Python exception that stopped the work (`with_progress`).
        Error::Interrupted => "LateIntError",
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

/// Documents as passed from Python: a stored set, a packed `(vectors, offsets)` pair, or a list
/// of `[n_tokens_j, dim]` arrays scored where they lie.
#[derive(FromPyObject)]
enum DocsArg<'py> {
    Set(PyRef<'py, PyDocumentSet>),
    Packed((PyReadonlyArray2<'py, f32>, PyReadonlyArray1<'py, i64>)),
    List(Bound<'py, PyList>),
}

pyo3::create_exception!(
    _native,
    NotPlain,
    pyo3::exceptions::PyException,
    "A list of documents that cannot be read in place (an array that is not C-contiguous float32 \
     2-D with at least one row, or dims that differ): the caller packs it instead."
);

/// The arrays of a list of documents read in place, and their common dim; `None` unless every
/// item is a C-contiguous, aligned float32 `[n >= 1, dim >= 1]` array of one dim.
fn plain_parts<'py>(list: &Bound<'py, PyList>) -> Option<(Vec<Bound<'py, PyArray2<f32>>>, usize)> {
    let mut arrays = Vec::with_capacity(list.len());
    let mut dim = 0;
    for item in list.iter() {
        let a = item.cast_into::<PyArray2<f32>>().ok()?;
        let (n, d) = (a.shape()[0], a.shape()[1]);
        if n == 0 || d == 0 || (dim != 0 && d != dim) || !a.is_c_contiguous() {
            return None;
        }
        // SAFETY: only whether the array can be viewed as a slice (contiguous and aligned) is
        // asked; the view is dropped at once.
        if unsafe { a.as_slice() }.is_err() {
            return None;
        }
        dim = d;
        arrays.push(a);
    }
    (dim != 0).then_some((arrays, dim))
}

/// The values of the arrays of `plain_parts`.
///
/// Not through numpy's borrow registry: a read-only borrow of each of thousands of views of one
/// base array is checked against every earlier one, quadratic in their number. As for the
/// borrowed packed pair, the caller's arrays are only read, and they stay alive in `arrays`
/// (borrowed for the slices' lifetime).
fn part_slices<'a>(arrays: &'a [Bound<'_, PyArray2<f32>>]) -> Option<Vec<&'a [f32]>> {
    arrays
        .iter()
        // SAFETY: each array is C-contiguous, aligned float32 (checked by `plain_parts`) and kept
        // alive by `arrays`; this code never writes to it and hands out no mutable view of it.
        .map(|a| unsafe { a.as_slice() }.ok())
        .collect()
}

fn contiguous<'a>(a: &'a PyReadonlyArray2<'_, f32>) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| PyRuntimeError::new_err("internal: array is not C-contiguous"))
}

fn contiguous1<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>) -> PyResult<&'a [T]> {
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
                    // R-MAXSIM-9 is checked by the scorers, tile by tile as they read the rows.
                    let packed = Packed::deferred("document", d_data, d_dim, d_offs)?;
                    f(isa, &queries, &Docs::from_packed(&packed))
                })?
            })
        }
        DocsArg::List(list) => {
            let Some((arrays, dim)) = plain_parts(list) else {
                return Err(NotPlain::new_err("documents to pack"));
            };
            let Some(parts) = part_slices(&arrays) else {
                return Err(NotPlain::new_err("documents to pack"));
            };
            let mut offsets = Vec::with_capacity(parts.len() + 1);
            offsets.push(0usize);
            for p in &parts {
                offsets.push(offsets[offsets.len() - 1] + p.len() / dim);
            }
            py.detach(|| {
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                // R-MAXSIM-9 is checked by the scorers, as for a packed pair.
                threads::install(pool, || {
                    f(isa, &queries, &Docs::from_parts(dim, &offsets, &parts))
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

/// `small_linear(x [m, k] f32, weight [n, k] f32, isa)` -> `x @ weight.T` `[m, n]` f32, one thread
/// (`linear.rs`; the NumPy encoder's products for a few tokens).
#[pyfunction]
#[pyo3(signature = (x, weight, isa=None))]
fn small_linear<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    weight: PyReadonlyArray2<'py, f32>,
    isa: Option<&str>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let isa = pick_isa(isa)?;
    let (m, k, n) = (x.shape()[0], x.shape()[1], weight.shape()[0]);
    if k == 0 || weight.shape()[1] != k {
        return Err(PyRuntimeError::new_err(
            "internal: small_linear needs k >= 1 and equal inner dims",
        ));
    }
    let (xs, ws) = (contiguous(&x)?, contiguous(&weight)?);
    let y = py.detach(|| crate::linear::linear(isa, xs, m, k, ws, n));
    matrix(py, y, m, n)
}

/// `assign_centroids(points [n, dim] f32, centroids [K, dim] f32, version, n_groups, probe,
/// threads, isa)` -> (centroid `[n] u32`, group of each centroid `[K] u32` or `None`): the
/// assignment a codec of format `version` gives (R-KMEANS-4, R-KMEANS-6); `n_groups` and `probe`
/// force the coarse rule with that `G` and `P` (tests).
#[pyfunction]
#[pyo3(signature = (points, centroids, version, n_groups=None, probe=None, threads=None, isa=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn assign_centroids<'py>(
    py: Python<'py>,
    points: PyReadonlyArray2<'py, f32>,
    centroids: PyReadonlyArray2<'py, f32>,
    version: u32,
    n_groups: Option<usize>,
    probe: Option<usize>,
    threads: Option<i64>,
    isa: Option<&str>,
) -> PyResult<(Bound<'py, PyArray1<u32>>, Option<Bound<'py, PyArray1<u32>>>)> {
    use crate::index::coarse::{self, Groups};
    use crate::index::kmeans::Assigner;
    let isa = pick_isa(isa)?;
    let dim = points.shape()[1];
    let k = centroids.shape()[0];
    if dim == 0 || centroids.shape()[1] != dim || k == 0 {
        return Err(PyRuntimeError::new_err(
            "internal: assign_centroids needs dim >= 1, K >= 1 and equal dims",
        ));
    }
    let (x, c) = (contiguous(&points)?, contiguous(&centroids)?);
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    let (arg, of) = py
        .detach(|| {
            threads::install(pool, || {
                let rule = match n_groups {
                    Some(g) => {
                        let p = probe.unwrap_or(coarse::PROBE_GROUPS);
                        let groups = Groups::new(isa, c, dim, g, p, &mut || Ok(()))?;
                        Assigner::Coarse(Box::new(groups))
                    }
                    None => Assigner::new(isa, c, dim, version, &mut || Ok(()))?,
                };
                let n = x.len() / dim;
                let mut best = crate::memory::zeroed::<f32>(n)?;
                let mut arg = crate::memory::zeroed::<u32>(n)?;
                rule.assign_in_steps(isa, x, dim, &mut best, &mut arg, &mut |_| Ok(()))?;
                let of = match rule {
                    Assigner::Coarse(groups) => Some(groups.of),
                    Assigner::Exact(_) => None,
                };
                Ok::<_, Error>((arg, of))
            })?
        })
        .map_err(|e| to_py(py, e))?;
    Ok((arg.into_pyarray(py), of.map(|o| o.into_pyarray(py))))
}

/// `cpu_peak(kind, seconds, repeats)` -> (rate, instruction set) or `None`: this core's limit for
/// `kind` ("fma_f32", "dot_bf16" GFLOP/s, "dot_i8" GOP/s, "read" GB/s), the best of `repeats`
/// timings of at least `seconds` each on the calling thread (`make bench`).
#[pyfunction]
#[pyo3(signature = (kind, seconds=0.3, repeats=3))]
fn cpu_peak(
    py: Python<'_>,
    kind: &str,
    seconds: f64,
    repeats: usize,
) -> PyResult<Option<(f64, &'static str)>> {
    let peak = crate::peaks::Peak::by_name(kind)
        .ok_or_else(|| PyRuntimeError::new_err(format!("internal: unknown peak {kind:?}")))?;
    let seconds = seconds.clamp(1e-3, 60.0);
    Ok(py.detach(|| crate::peaks::measure(peak, seconds, repeats.clamp(1, 100))))
}

/// How bfloat16 storage is scored on this CPU: "dot", "widen" or "fused" (`Bf16Route`).
#[pyfunction]
fn bf16_route() -> &'static str {
    crate::kernel::Bf16Route::detect().name()
}

/// Whether the AVX512_BF16 dot product serves bfloat16 storage on this CPU.
#[pyfunction]
fn has_bf16_dot() -> bool {
    crate::kernel::has_bf16_dot()
}

/// External ids as passed from Python: an int64 array or a list of strings.
#[derive(FromPyObject)]
enum IdsArg<'py> {
    Int(PyReadonlyArray1<'py, i64>),
    Str(Vec<String>),
}

impl IdsArg<'_> {
    fn into_ids(self) -> PyResult<Ids> {
        Ok(match self {
            IdsArg::Int(a) => Ids::Int(contiguous1(&a)?.to_vec()),
            IdsArg::Str(v) => Ids::Str(v),
        })
    }
}

/// A progress report of the native work: `(stage, done, total)`.
type Report = (String, u64, u64);

/// The working thread's end of the progress hook (R-INDEX-8): each report goes to the calling
/// thread, which answers whether the work may go on.
struct Relay {
    reports: mpsc::Sender<Report>,
    answers: mpsc::Receiver<bool>,
}

impl Relay {
    /// Sends a report and waits for its answer; `Error::Interrupted` when the work must stop.
    /// While waiting, a worker of a rayon pool runs that pool's pending jobs (a callback may use
    /// the same pool), checking for the answer every millisecond.
    fn report(&self, stage: &str, done: u64, total: u64) -> Result<(), Error> {
        self.reports
            .send((stage.to_string(), done, total))
            .map_err(|_| Error::Interrupted)?;
        loop {
            match self.answers.recv_timeout(Duration::from_millis(1)) {
                Ok(true) => return Ok(()),
                Ok(false) | Err(RecvTimeoutError::Disconnected) => return Err(Error::Interrupted),
                Err(RecvTimeoutError::Timeout) => {
                    rayon::yield_now();
                }
            }
        }
    }
}

/// Runs `work` (a build or an addition) with the GIL released on a thread of its own, while
/// this thread, the caller's, serves its progress reports (R-INDEX-8): for each one, with the
/// GIL re-taken, pending signals are handled (Ctrl-C raises `KeyboardInterrupt`), then
/// `callback(stage, done, total)` is called. The first Python error stops the work; once the
/// work has returned, that very exception is raised.
fn with_progress<T: Send>(
    py: Python<'_>,
    callback: Option<&Py<PyAny>>,
    work: impl FnOnce(Relay) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let (reports, incoming) = mpsc::channel::<Report>();
    let (answer, answers) = mpsc::channel::<bool>();
    let relay = Relay { reports, answers };
    let (result, stopped) = py.detach(move || {
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("lateint-build".into())
                .spawn_scoped(scope, move || work(relay));
            let worker = match worker {
                Ok(w) => w,
                Err(e) => {
                    let reason = e.to_string();
                    return (Err(Error::ThreadPool { reason }), None);
                }
            };
            let mut stopped: Option<PyErr> = None;
            // Ends when the worker has returned (its sender is dropped).
            for (stage, done, total) in incoming.iter() {
                if stopped.is_none() {
                    stopped = Python::attach(|py| {
                        py.check_signals()?;
                        match callback {
                            Some(cb) => cb.call1(py, (stage, done, total)).map(drop),
                            None => Ok(()),
                        }
                    })
                    .err();
                }
                // A failed send means the worker is gone: the loop ends with it.
                let _ = answer.send(stopped.is_none());
            }
            let result = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (result, stopped)
        })
    });
    match (result, stopped) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(to_py(py, e)),
    }
}

/// `build_index(path, vectors, offsets, ids, nbits, seed, n_centroids, sample, iters, metadata,
/// threads, progress)`: builds and commits an index (spec/index.md). `progress(stage, done,
/// total)` is called on this thread between steps of the work; an exception it raises, or a
/// signal's (Ctrl-C), stops the build and is raised here, nothing committed (R-INDEX-8).
#[pyfunction]
#[pyo3(signature = (path, vectors, offsets, ids, nbits, seed, n_centroids, sample, iters, metadata, threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn build_index(
    py: Python<'_>,
    path: std::path::PathBuf,
    vectors: PyReadonlyArray2<'_, f32>,
    offsets: PyReadonlyArray1<'_, i64>,
    ids: IdsArg<'_>,
    nbits: i64,
    seed: u64,
    n_centroids: Option<usize>,
    sample: Option<usize>,
    iters: usize,
    metadata: String,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let dim = vectors.shape()[1];
    let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
    let ids = ids.into_ids()?;
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        let nbits = crate::index::quantize::check_nbits(nbits)?;
        let docs = Packed::new("document", data, dim, offs)?;
        let params = index_build::Params {
            nbits,
            seed,
            n_centroids,
            sample,
            iters,
            metadata,
        };
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            index_build::build(&path, Isa::detect(), &docs, &ids, &params, &mut report)
        })?
    })
}

/// A streaming build (R-INDEX-17): `IndexSpill(path)` takes the writer's lock on `path` and
/// creates its spill file; `push(vectors, offsets)` appends a batch of documents to it;
/// `build(ids, nbits, seed, n_centroids, sample, iters, metadata, segment_tokens, threads,
/// progress)` builds and commits the index from it (`progress` as `build_index`); `close()`,
/// which `build` makes a no-op, removes what was written and releases the lock.
#[pyclass(name = "IndexSpill", module = "lateint_ref._native")]
struct PyIndexSpill {
    inner: Option<index_stream::Spill>,
}

impl PyIndexSpill {
    fn spill(&mut self) -> PyResult<&mut index_stream::Spill> {
        self.inner
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("internal: the streaming build is closed"))
    }
}

#[pymethods]
impl PyIndexSpill {
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let spill = py
            .detach(|| index_stream::Spill::start(&path))
            .map_err(|e| to_py(py, e))?;
        Ok(PyIndexSpill { inner: Some(spill) })
    }

    fn push(
        &mut self,
        py: Python<'_>,
        vectors: PyReadonlyArray2<'_, f32>,
        offsets: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<()> {
        let dim = vectors.shape()[1];
        let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
        let spill = self.spill()?;
        py.detach(|| {
            let docs = Packed::new("document", data, dim, offs)?;
            spill.push(&docs)
        })
        .map_err(|e| to_py(py, e))
    }

    #[getter]
    fn n_docs(&self) -> usize {
        self.inner.as_ref().map_or(0, index_stream::Spill::n_docs)
    }

    #[getter]
    fn n_tokens(&self) -> usize {
        self.inner.as_ref().map_or(0, index_stream::Spill::n_tokens)
    }

    #[pyo3(signature = (ids, nbits, seed, n_centroids, sample, iters, metadata, segment_tokens, threads=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        py: Python<'_>,
        ids: IdsArg<'_>,
        nbits: i64,
        seed: u64,
        n_centroids: Option<usize>,
        sample: Option<usize>,
        iters: usize,
        metadata: String,
        segment_tokens: usize,
        threads: Option<i64>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        self.spill()?;
        let ids = ids.into_ids()?;
        let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
        let nbits = crate::index::quantize::check_nbits(nbits).map_err(|e| to_py(py, e))?;
        let spill = self.inner.take();
        with_progress(py, progress.as_ref(), |relay| {
            let params = index_build::Params {
                nbits,
                seed,
                n_centroids,
                sample,
                iters,
                metadata,
            };
            threads::install(pool, move || {
                let mut report = |stage: &str, done, total| relay.report(stage, done, total);
                match spill {
                    Some(s) => s.build(Isa::detect(), &ids, &params, segment_tokens, &mut report),
                    None => Err(Error::Interrupted),
                }
            })?
        })
    }

    /// Removes what an unfinished streaming build wrote and releases its lock (R-INDEX-8).
    fn close(&mut self) {
        self.inner = None;
    }
}

/// `append_index(path, vectors, offsets, ids, threads, progress)`: adds the documents as a new
/// segment of the index at `path` (R-INDEX-7); `progress` as `build_index`, a stopped addition
/// leaving the index at its last commit (R-INDEX-8).
#[pyfunction]
#[pyo3(signature = (path, vectors, offsets, ids, threads=None, progress=None, upsert=false))]
#[allow(clippy::too_many_arguments)]
fn append_index(
    py: Python<'_>,
    path: std::path::PathBuf,
    vectors: PyReadonlyArray2<'_, f32>,
    offsets: PyReadonlyArray1<'_, i64>,
    ids: IdsArg<'_>,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
    upsert: bool,
) -> PyResult<()> {
    let dim = vectors.shape()[1];
    let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
    let ids = ids.into_ids()?;
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        let docs = Packed::new("document", data, dim, offs)?;
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            index_build::append(&path, Isa::detect(), &docs, &ids, upsert, &mut report)
        })?
    })
}

/// `delete_index(path, ids)`: tombstones the live documents of `ids` in one commit (R-INDEX-10);
/// returns how many. An id no live document has raises before any change.
#[pyfunction]
fn delete_index(py: Python<'_>, path: std::path::PathBuf, ids: IdsArg<'_>) -> PyResult<usize> {
    let ids = ids.into_ids()?;
    py.detach(|| crate::index::delete::delete(&path, &ids))
        .map_err(|e| to_py(py, e))
}

/// `compact_index(path, threads, progress)`: merges the live documents into one segment in one
/// commit (R-INDEX-12); returns the number of deleted documents dropped. `progress` as
/// `build_index`.
#[pyfunction]
#[pyo3(signature = (path, threads=None, progress=None))]
fn compact_index(
    py: Python<'_>,
    path: std::path::PathBuf,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<usize> {
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            crate::index::compact::compact(&path, &mut report)
        })?
    })
}

/// `refit_index(path, vectors, offsets, nbits, seed, n_centroids, sample, iters, threads,
/// progress)`: compacts the index at `path` with a codec trained on the embeddings of its live
/// documents, in position order (R-INDEX-19); each `None` parameter takes its default.
/// `progress` as `build_index`.
#[pyfunction]
#[pyo3(signature = (path, vectors, offsets, nbits=None, seed=None, n_centroids=None, sample=None, iters=None, threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn refit_index(
    py: Python<'_>,
    path: std::path::PathBuf,
    vectors: PyReadonlyArray2<'_, f32>,
    offsets: PyReadonlyArray1<'_, i64>,
    nbits: Option<i64>,
    seed: Option<u64>,
    n_centroids: Option<usize>,
    sample: Option<usize>,
    iters: Option<usize>,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let dim = vectors.shape()[1];
    let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        let params = crate::index::refit::Refit {
            nbits: nbits.map(crate::index::quantize::check_nbits).transpose()?,
            seed,
            n_centroids,
            sample,
            iters,
        };
        let docs = Packed::new("document", data, dim, offs)?;
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            crate::index::refit::refit(&path, Isa::detect(), &docs, &params, &mut report)
        })?
    })
}

/// `build_index_with_codec(path, vectors, offsets, ids, codec, threads, progress)`: builds and
/// commits an index coded with the codec of `codec`, an index folder or a codec file, copied byte
/// for byte (R-INDEX-20); `progress` as `build_index`.
#[pyfunction]
#[pyo3(signature = (path, vectors, offsets, ids, codec, threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn build_index_with_codec(
    py: Python<'_>,
    path: std::path::PathBuf,
    vectors: PyReadonlyArray2<'_, f32>,
    offsets: PyReadonlyArray1<'_, i64>,
    ids: IdsArg<'_>,
    codec: std::path::PathBuf,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let dim = vectors.shape()[1];
    let (data, offs) = (contiguous(&vectors)?, contiguous1(&offsets)?);
    let ids = ids.into_ids()?;
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        let docs = Packed::new("document", data, dim, offs)?;
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            crate::index::shard::build_with_codec(
                &path,
                Isa::detect(),
                &docs,
                &ids,
                &codec,
                &mut report,
            )
        })?
    })
}

/// `codec_sample(n_tokens, n_centroids, sample, seed)` -> (K, token numbers i64 `[S]`): the
/// k-means sizes and sample of a collection of `n_tokens` tokens (R-KMEANS-1, R-KMEANS-2).
#[pyfunction]
fn codec_sample<'py>(
    py: Python<'py>,
    n_tokens: usize,
    n_centroids: Option<usize>,
    sample: Option<usize>,
    seed: u64,
) -> PyResult<(usize, Bound<'py, PyArray1<i64>>)> {
    let (k, picks) = crate::index::shard::sample_of(n_tokens, n_centroids, sample, seed)
        .map_err(|e| to_py(py, e))?;
    let picks: Vec<i64> = picks.into_iter().map(|p| p as i64).collect();
    Ok((k, picks.into_pyarray(py)))
}

/// `train_codec(path, rows, n_tokens, nbits, seed, n_centroids, sample, iters, metadata,
/// threads, progress)`: trains the codec of a collection of `n_tokens` tokens from its sample
/// rows `[S, dim]` (in `codec_sample` order) and writes it as the codec file `path`
/// (R-INDEX-20); `progress` as `build_index`.
#[pyfunction]
#[pyo3(signature = (path, rows, n_tokens, nbits, seed, n_centroids, sample, iters, metadata, threads=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn train_codec(
    py: Python<'_>,
    path: std::path::PathBuf,
    rows: PyReadonlyArray2<'_, f32>,
    n_tokens: usize,
    nbits: i64,
    seed: u64,
    n_centroids: Option<usize>,
    sample: Option<usize>,
    iters: usize,
    metadata: String,
    threads: Option<i64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    let (n, dim) = (rows.shape()[0], rows.shape()[1]);
    let data = contiguous(&rows)?;
    let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
    with_progress(py, progress.as_ref(), |relay| {
        let nbits = crate::index::quantize::check_nbits(nbits)?;
        let rows = Packed::new("document", data, dim, &[0, n as i64])?;
        let params = index_build::Params {
            nbits,
            seed,
            n_centroids,
            sample,
            iters,
            metadata,
        };
        let dir = path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
            .ok_or_else(|| Error::Param {
                rule: "R-INDEX-20",
                what: format!("{} is not a file name", path.display()),
            })?;
        threads::install(pool, move || {
            let mut report = |stage: &str, done, total| relay.report(stage, done, total);
            crate::index::shard::train_codec(
                &dir,
                &name,
                Isa::detect(),
                &rows,
                n_tokens,
                &params,
                &mut report,
            )
            .map(drop)
        })?
    })
}

/// `is_uncommitted_dir(path)`: whether `path` is a folder without a committed manifest holding
/// only what an index writer leaves there (R-INDEX-13): an index can be created into it.
#[pyfunction]
fn is_uncommitted_dir(path: std::path::PathBuf) -> bool {
    crate::index::commit::uncommitted(&path)
}

/// `committed_generation(path)`: the generation of the manifest committed at `path`, the
/// manifest alone read and checked (R-INDEX-15: `Index.refresh` reopens when it changed).
#[pyfunction]
fn committed_generation(py: Python<'_>, path: std::path::PathBuf) -> PyResult<u64> {
    py.detach(|| crate::index::format::manifest::read(&path).map(|(fields, _, _)| fields[0]))
        .map_err(|e| to_py(py, e))
}

/// An opened index (spec/index.md): `Index(path)`.
#[pyclass(frozen, name = "Index", module = "lateint_ref._native")]
struct PyIndex {
    inner: Index,
}

#[pymethods]
impl PyIndex {
    #[new]
    fn new(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let inner = py.detach(|| Index::open(&path)).map_err(|e| to_py(py, e))?;
        Ok(PyIndex { inner })
    }

    /// `reopen()`: the latest commit of the folder, reusing the segments opened here that it
    /// still names (R-INDEX-15, R-INDEX-16).
    fn reopen(&self, py: Python<'_>) -> PyResult<PyIndex> {
        let inner = py
            .detach(|| self.inner.reopen())
            .map_err(|e| to_py(py, e))?;
        Ok(PyIndex { inner })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.codec.dim
    }

    #[getter]
    fn nbits(&self) -> usize {
        self.inner.codec.buckets.nbits
    }

    #[getter]
    fn n_centroids(&self) -> usize {
        self.inner.codec.k
    }

    #[getter]
    fn n_tokens(&self) -> usize {
        self.inner.n_tokens()
    }

    #[getter]
    fn generation(&self) -> u64 {
        self.inner.generation
    }

    #[getter]
    fn metadata(&self) -> String {
        self.inner.codec.metadata.clone()
    }

    /// `(seed, sample, kmeans_iters)` of the codec.
    #[getter]
    fn training(&self) -> (u64, u64, u64) {
        let c = &self.inner.codec;
        (c.seed, c.sample, c.iters)
    }

    fn __len__(&self) -> usize {
        self.inner.n_docs()
    }

    /// Documents not deleted (R-INDEX-9).
    #[getter]
    fn n_live(&self) -> usize {
        self.inner.n_live()
    }

    /// The deleted global positions, increasing (R-INDEX-9).
    fn tombstones<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let t: Vec<i64> = self.inner.tombstones().iter().map(|&x| x as i64).collect();
        t.into_pyarray(py)
    }

    fn centroids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.inner.codec;
        matrix(py, c.centroids.clone(), c.k, c.dim)
    }

    fn cutoffs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.inner.codec;
        let b = 1usize << c.buckets.nbits;
        matrix(py, c.buckets.cutoffs.clone(), c.dim, b - 1)
    }

    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.inner.codec;
        let b = 1usize << c.buckets.nbits;
        matrix(py, c.buckets.weights.clone(), c.dim, b)
    }

    /// `[code_bytes * 256, 8 / nbits]` decoding table (R-QUANT-4, R-QUANT-6).
    fn table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let c = &self.inner.codec;
        let per = 8 / c.buckets.nbits;
        matrix(py, c.table.clone(), c.table.len() / per, per)
    }

    /// The codec's format version (R-INDEX-4).
    fn format_version(&self) -> u32 {
        self.inner.codec.version()
    }

    /// `[dim, 2]` residual bounds of segment `segment` (R-QUANT-5).
    fn bounds<'py>(&self, py: Python<'py>, segment: usize) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let seg =
            self.inner.segments.get(segment).ok_or_else(|| {
                PyRuntimeError::new_err(format!("internal: no segment {segment}"))
            })?;
        matrix(py, seg.bounds().to_vec(), self.inner.codec.dim, 2)
    }

    /// External ids in position order: an int64 array or a list of strings.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut ints = Vec::new();
        let mut strs: Vec<&str> = Vec::new();
        for seg in &self.inner.segments {
            match &seg.ids {
                Ids::Int(v) => ints.extend_from_slice(v),
                Ids::Str(v) => strs.extend(v.iter().map(String::as_str)),
            }
        }
        if strs.is_empty() {
            Ok(ints.into_pyarray(py).into_any())
        } else {
            Ok(pyo3::types::PyList::new(py, strs)?.into_any())
        }
    }

    /// `[(file name, documents)]` of the segments, in position order (R-INDEX-7).
    fn segments(&self) -> Vec<(String, usize)> {
        let segments = &self.inner.segments;
        segments
            .iter()
            .map(|s| (s.name.clone(), s.n_docs))
            .collect()
    }

    /// R-INDEX-18: the codec's far threshold, a residual norm (`None` for a version 1 codec).
    #[getter]
    fn far_threshold(&self) -> Option<f64> {
        self.inner.codec.far.map(f64::sqrt)
    }

    /// R-INDEX-18: `[(file name, documents, tokens, far tokens)]` of the segments, in position
    /// order; far tokens `None` for a version 1 segment.
    fn segment_far(&self) -> Vec<(String, usize, usize, Option<u64>)> {
        let segments = &self.inner.segments;
        segments
            .iter()
            .map(|s| (s.name.clone(), s.n_docs, s.n_tokens, s.n_far))
            .collect()
    }

    /// `[(file name, bytes)]` of the committed files as opened, manifest first.
    fn files(&self) -> Vec<(String, u64)> {
        let mut out = vec![(
            crate::index::format::MANIFEST.to_string(),
            self.inner.manifest_len,
        )];
        out.extend(self.inner.entries.iter().map(|e| (e.name.clone(), e.len)));
        out
    }

    /// `search(q_vectors, q_offsets, k, nprobe, rescore, exhaustive, threads)` -> (positions i64,
    /// scores f32, offsets i64): query `i`'s hits are `offsets[i]..offsets[i + 1]`, best first.
    #[pyo3(signature = (q_vectors, q_offsets, k, nprobe=None, candidates=None, rescore=None, exhaustive=false, threads=None, allow=None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        q_vectors: PyReadonlyArray2<'py, f32>,
        q_offsets: PyReadonlyArray1<'py, i64>,
        k: i64,
        nprobe: Option<i64>,
        candidates: Option<i64>,
        rescore: Option<i64>,
        exhaustive: bool,
        threads: Option<i64>,
        allow: Option<PyReadonlyArray1<'py, i64>>,
    ) -> PyResult<(
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        let q_dim = q_vectors.shape()[1];
        let (q_data, q_offs) = (contiguous(&q_vectors)?, contiguous1(&q_offsets)?);
        // R-ISEARCH-7: the allowed live positions, increasing and distinct.
        let allow: Option<Vec<usize>> = match &allow {
            None => None,
            Some(a) => {
                let mut v: Vec<usize> = contiguous1(a)?
                    .iter()
                    .filter_map(|&p| usize::try_from(p).ok())
                    .filter(|&p| p < self.inner.n_docs() && !self.inner.is_deleted(p))
                    .collect();
                v.sort_unstable();
                v.dedup();
                Some(v)
            }
        };
        let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
        let index = &self.inner;
        let hits = py
            .detach(|| {
                let p = index_search::Params::new(
                    k,
                    nprobe,
                    candidates,
                    rescore,
                    exhaustive,
                    index.codec.k,
                    index.n_docs(),
                )?;
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || {
                    index.search(Isa::detect(), &queries, &p, allow.as_deref())
                })?
            })
            .map_err(|e| to_py(py, e))?;
        Ok(flat_hits(py, hits))
    }

    /// `(nprobe, candidates, rescore)`: the defaults of a search for `k` results (R-ISEARCH-3).
    fn search_defaults(&self, py: Python<'_>, k: i64) -> PyResult<(usize, usize, usize)> {
        let index = &self.inner;
        let p =
            index_search::Params::new(k, None, None, None, false, index.codec.k, index.n_docs())
                .map_err(|e| to_py(py, e))?;
        Ok((p.nprobe, p.candidates, p.rescore))
    }

    /// Decoded tokens of the documents at `positions` (R-ISEARCH-5): (vectors, offsets).
    #[allow(clippy::type_complexity)]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        positions: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<i64>>)> {
        let pos = contiguous1(&positions)?;
        let index = &self.inner;
        let (vectors, offsets) = py
            .detach(|| {
                let mut out = Vec::new();
                let mut offsets = vec![0i64];
                for &p in pos {
                    let p = usize::try_from(p).unwrap_or(usize::MAX);
                    let n = index.decode(p, &mut out)?;
                    offsets.push(offsets[offsets.len() - 1] + n as i64);
                }
                Ok::<_, Error>((out, offsets))
            })
            .map_err(|e| to_py(py, e))?;
        let rows = offsets[offsets.len() - 1] as usize;
        Ok((
            matrix(py, vectors, rows, index.codec.dim)?,
            offsets.into_pyarray(py),
        ))
    }

    /// Centroid ids `[n] u16` and unpacked buckets `[n, dim] u8` of the document at `position`.
    #[allow(clippy::type_complexity)]
    fn codes<'py>(
        &self,
        py: Python<'py>,
        position: usize,
    ) -> PyResult<(Bound<'py, PyArray1<u16>>, Bound<'py, PyArray2<u8>>)> {
        let (ids, buckets) = self.inner.codes(position).map_err(|e| to_py(py, e))?;
        let n = ids.len();
        Ok((
            ids.into_pyarray(py),
            matrix(py, buckets, n, self.inner.codec.dim)?,
        ))
    }
    /// `shard_probe(q_vectors, q_offsets, nprobe, candidates, keep_bytes, threads)` -> (probe
    /// scores f32, positions i64, offsets i64, centroid scores): stage 1 of a sharded search,
    /// query `i`'s candidates best first at `offsets[i]..offsets[i + 1]`, and its centroid
    /// scores (f32, flat) or None past the first `keep_bytes` of them (R-DIST-3).
    #[pyo3(signature = (q_vectors, q_offsets, nprobe, candidates, keep_bytes, threads=None))]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn shard_probe<'py>(
        &self,
        py: Python<'py>,
        q_vectors: PyReadonlyArray2<'py, f32>,
        q_offsets: PyReadonlyArray1<'py, i64>,
        nprobe: i64,
        candidates: i64,
        keep_bytes: u64,
        threads: Option<i64>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
        Vec<Option<Bound<'py, PyArray1<f32>>>>,
    )> {
        let q_dim = q_vectors.shape()[1];
        let (q_data, q_offs) = (contiguous(&q_vectors)?, contiguous1(&q_offsets)?);
        let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
        let index = &self.inner;
        let keep = usize::try_from(keep_bytes).unwrap_or(usize::MAX);
        let found = py
            .detach(|| {
                let p = index_search::Params::new(
                    1,
                    Some(nprobe),
                    Some(candidates),
                    None,
                    false,
                    index.codec.k,
                    index.n_docs(),
                )?;
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || {
                    index.shard_probe(Isa::detect(), &queries, &p, keep)
                })?
            })
            .map_err(|e| to_py(py, e))?;
        let mut kept = Vec::with_capacity(found.len());
        let hits = found
            .into_iter()
            .map(|(h, s)| {
                kept.push(s.map(|s| s.into_pyarray(py)));
                h
            })
            .collect();
        let (pos, probe, offsets) = flat_hits(py, hits);
        Ok((probe, pos, offsets, kept))
    }

    /// `shard_codes(q_vectors, q_offsets, positions, pos_offsets, scores, rescore, threads)` ->
    /// (positions i64, code scores f32, offsets i64): stage 2 of a sharded search (R-DIST-3):
    /// query `i`'s `rescore` best by code score among
    /// `positions[pos_offsets[i]..pos_offsets[i + 1]]`, from `scores[i]` (its centroid scores
    /// from `shard_probe`) or, where that is None, the centroid scores computed again.
    #[pyo3(signature = (q_vectors, q_offsets, positions, pos_offsets, scores, rescore, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn shard_codes<'py>(
        &self,
        py: Python<'py>,
        q_vectors: PyReadonlyArray2<'py, f32>,
        q_offsets: PyReadonlyArray1<'py, i64>,
        positions: PyReadonlyArray1<'py, i64>,
        pos_offsets: PyReadonlyArray1<'py, i64>,
        scores: Vec<Option<PyReadonlyArray1<'py, f32>>>,
        rescore: i64,
        threads: Option<i64>,
    ) -> PyResult<FlatHits<'py>> {
        let q_dim = q_vectors.shape()[1];
        let (q_data, q_offs) = (contiguous(&q_vectors)?, contiguous1(&q_offsets)?);
        let n_queries = q_offs.len().saturating_sub(1);
        let (p, o) = (contiguous1(&positions)?, contiguous1(&pos_offsets)?);
        let lists = position_lists(py, p, o, n_queries)?;
        let given: Vec<Option<&[f32]>> = scores
            .iter()
            .map(|s| s.as_ref().map(contiguous1).transpose())
            .collect::<PyResult<_>>()?;
        if given.len() != n_queries {
            return Err(to_py(
                py,
                Error::Param {
                    rule: "R-DIST-3",
                    what: format!("{} score arrays for {n_queries} queries", given.len()),
                },
            ));
        }
        let rescore = usize::try_from(rescore)
            .ok()
            .filter(|&r| r >= 1)
            .ok_or_else(|| {
                to_py(
                    py,
                    Error::Param {
                        rule: "R-ISEARCH-3",
                        what: format!("rescore must be at least 1, got {rescore}"),
                    },
                )
            })?;
        let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
        let index = &self.inner;
        let hits = py
            .detach(|| {
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || {
                    index.shard_codes(Isa::detect(), &queries, &lists, &given, rescore)
                })?
            })
            .map_err(|e| to_py(py, e))?;
        Ok(flat_hits(py, hits))
    }

    /// `shard_rescore(q_vectors, q_offsets, positions, pos_offsets, k, threads)` -> (positions
    /// i64, scores f32, offsets i64): stage 2 of a sharded search (R-DIST-3): query `i`'s `k`
    /// best by exact score among `positions[pos_offsets[i]..pos_offsets[i + 1]]`, or among every
    /// live document when `positions` is None.
    #[pyo3(signature = (q_vectors, q_offsets, positions, pos_offsets, k, threads=None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn shard_rescore<'py>(
        &self,
        py: Python<'py>,
        q_vectors: PyReadonlyArray2<'py, f32>,
        q_offsets: PyReadonlyArray1<'py, i64>,
        positions: Option<PyReadonlyArray1<'py, i64>>,
        pos_offsets: Option<PyReadonlyArray1<'py, i64>>,
        k: i64,
        threads: Option<i64>,
    ) -> PyResult<(
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f32>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        let q_dim = q_vectors.shape()[1];
        let (q_data, q_offs) = (contiguous(&q_vectors)?, contiguous1(&q_offsets)?);
        let n_queries = q_offs.len().saturating_sub(1);
        let lists: Vec<Option<Vec<usize>>> = match (&positions, &pos_offsets) {
            (Some(p), Some(o)) => {
                let (p, o) = (contiguous1(p)?, contiguous1(o)?);
                position_lists(py, p, o, n_queries)?
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            (None, None) => vec![None; n_queries],
            _ => {
                let what = "positions and pos_offsets go together".into();
                let rule = "R-DIST-3";
                return Err(to_py(py, Error::Param { rule, what }));
            }
        };
        if k < 1 {
            return Err(to_py(py, Error::K { got: k }));
        }
        let pool = threads::check(threads).map_err(|e| to_py(py, e))?;
        let index = &self.inner;
        let hits = py
            .detach(|| {
                let queries = Packed::new("query", q_data, q_dim, q_offs)?;
                threads::install(pool, || {
                    index.shard_rescore(Isa::detect(), &queries, &lists, k as usize)
                })?
            })
            .map_err(|e| to_py(py, e))?;
        Ok(flat_hits(py, hits))
    }
}

/// R-DIST-3: per query, its positions `p[o[i]..o[i + 1]]` (a negative one becomes `usize::MAX`,
/// which the stage's own check names).
fn position_lists(
    py: Python<'_>,
    p: &[i64],
    o: &[i64],
    n_queries: usize,
) -> PyResult<Vec<Vec<usize>>> {
    let bad = |what: String| {
        let rule = "R-DIST-3";
        to_py(py, Error::Param { rule, what })
    };
    if o.len() != n_queries + 1 {
        return Err(bad(format!("{} offsets for {n_queries} queries", o.len())));
    }
    o.windows(2)
        .map(|w| match (usize::try_from(w[0]), usize::try_from(w[1])) {
            (Ok(a), Ok(b)) if a <= b && b <= p.len() => Ok(p[a..b]
                .iter()
                .map(|&x| usize::try_from(x).unwrap_or(usize::MAX))
                .collect()),
            _ => Err(bad(format!("bad position offsets {w:?}"))),
        })
        .collect()
}

/// Per-query hit lists as Python reads them: (positions i64, scores f32, offsets i64), query
/// `i`'s hits at `offsets[i]..offsets[i + 1]`.
type FlatHits<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray1<i64>>,
);

fn flat_hits(py: Python<'_>, hits: Vec<Vec<crate::search::Hit>>) -> FlatHits<'_> {
    let mut offsets = vec![0i64];
    let (mut pos, mut scores) = (Vec::new(), Vec::new());
    for h in hits {
        for (s, d) in h {
            pos.push(d as i64);
            scores.push(s);
        }
        offsets.push(pos.len() as i64);
    }
    (
        pos.into_pyarray(py),
        scores.into_pyarray(py),
        offsets.into_pyarray(py),
    )
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDocumentSet>()?;
    m.add("NotPlain", m.py().get_type::<NotPlain>())?;
    m.add_class::<PyIndex>()?;
    m.add_class::<PyIndexSpill>()?;
    m.add_function(wrap_pyfunction!(build_index, m)?)?;
    m.add_function(wrap_pyfunction!(append_index, m)?)?;
    m.add_function(wrap_pyfunction!(delete_index, m)?)?;
    m.add_function(wrap_pyfunction!(compact_index, m)?)?;
    m.add_function(wrap_pyfunction!(refit_index, m)?)?;
    m.add_function(wrap_pyfunction!(build_index_with_codec, m)?)?;
    m.add_function(wrap_pyfunction!(codec_sample, m)?)?;
    m.add_function(wrap_pyfunction!(train_codec, m)?)?;
    m.add_function(wrap_pyfunction!(is_uncommitted_dir, m)?)?;
    m.add_function(wrap_pyfunction!(committed_generation, m)?)?;
    m.add_function(wrap_pyfunction!(maxsim, m)?)?;
    m.add_function(wrap_pyfunction!(maxsim_pairwise, m)?)?;
    m.add_function(wrap_pyfunction!(search_exact, m)?)?;
    m.add_function(wrap_pyfunction!(available_isas, m)?)?;
    m.add_function(wrap_pyfunction!(has_bf16_dot, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_peak, m)?)?;
    m.add_function(wrap_pyfunction!(bf16_route, m)?)?;
    m.add_function(wrap_pyfunction!(assign_centroids, m)?)?;
    m.add_function(wrap_pyfunction!(small_linear, m)?)?;
    Ok(())
}
