//! The closed set of ways the native core fails. Each variant names the requirement of
//! `spec/maxsim.md` it enforces; `python.rs` maps them to the Python classes in one place.

/// Every failure of the native core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// R-MAXSIM-4: a packed offsets array is not `0 = o[0] < o[1] < ... < o[n] = n_tokens`.
    #[error("R-MAXSIM-4: {what} offsets {reason}")]
    Offsets { what: &'static str, reason: String },

    /// R-MAXSIM-7: the embedding dimension is zero, or differs between queries and documents.
    #[error("R-MAXSIM-7: {what}")]
    Dim { what: String },

    /// R-MAXSIM-8: a query or document has no token.
    #[error("R-MAXSIM-8: {what} {index} has no token")]
    Empty { what: &'static str, index: usize },

    /// R-MAXSIM-9: an input value is NaN or infinite.
    #[error(
        "R-MAXSIM-9: {what} {index}, token {token}, component {component} is {value} (not finite)"
    )]
    NonFinite {
        what: &'static str,
        index: usize,
        token: usize,
        component: usize,
        value: f32,
    },

    /// R-MAXSIM-11: a finite value overflows bfloat16 (|x| rounds above 3.3895e38).
    #[error("R-MAXSIM-11: {what} value {value} overflows bfloat16 storage")]
    Bf16Overflow { what: &'static str, value: f32 },

    /// R-MAXSIM-11: an unknown storage name.
    #[error("R-MAXSIM-11: storage must be 'float32' or 'bfloat16', got {got:?}")]
    Storage { got: String },

    /// R-MAXSIM-12: the pairwise form needs as many documents as queries.
    #[error(
        "R-MAXSIM-12: pairwise scoring needs as many documents as queries, got {queries} queries and {documents} documents"
    )]
    PairCount { queries: usize, documents: usize },

    /// R-MAXSIM-13: a thread count outside 1..=1024.
    #[error("R-MAXSIM-13: threads must be an integer in 1..=1024 or None, got {got}")]
    Threads { got: i64 },

    /// R-SEARCH-2: k below 1.
    #[error("R-SEARCH-2: k must be an integer >= 1, got {got}")]
    K { got: i64 },

    /// R-MAXSIM-15: an allocation sized by the input cannot be made.
    #[error("R-MAXSIM-15: cannot allocate {bytes} bytes")]
    Memory { bytes: u128 },

    /// An index argument outside its range; `rule` is the requirement of `spec/index.md` it breaks.
    #[error("{rule}: {what}")]
    Param { rule: &'static str, what: String },

    /// R-INDEX-2: an index file is missing, truncated, corrupted or inconsistent.
    #[error("R-INDEX-2: {file}: {check}")]
    Format { file: String, check: String },

    /// R-INDEX-6: the operating system failed a write of the index.
    #[error("R-INDEX-6: writing {path} failed: {reason}")]
    Io { path: String, reason: String },

    /// R-INDEX-14: another process holds the writer's lock on the index folder.
    #[error(
        "R-INDEX-14: {dir} is being written by another process (it holds {dir}/LOCK); one writer at a time"
    )]
    Locked { dir: String },

    /// R-INDEX-8: the caller's progress hook stopped a build or an addition (a signal, or an
    /// error of the Python callback, which the binding raises in its place); nothing was committed.
    #[error("R-INDEX-8: stopped by the caller before the commit")]
    Interrupted,

    /// R-MAXSIM-14: the operating system refused to start worker threads.
    #[error("R-MAXSIM-14: could not start the thread pool: {reason}")]
    ThreadPool { reason: String },
}

/// Result of the native core.
pub type Result<T> = std::result::Result<T, Error>;
