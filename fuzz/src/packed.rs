//! Target `packed`: the validators of packed batches (rust/packed.rs, R-MAXSIM-4, R-MAXSIM-7 to
//! R-MAXSIM-9). One input: a byte whose bit 0 names the items (query or document), `dim` (u16),
//! the number of offsets `n` (u16), `n` offsets (i64), then the values (f32; a last partial value
//! is dropped).
//!
//! Laws checked on every input: nothing panics; `Packed::new` allocates at most `alloc::bound` of
//! the input's length; `new` accepts exactly what `deferred` accepts and `check_items` then
//! passes over every item, and both name the same first non-finite value (the deferred check
//! exists so that the scorer reads rows once: it must not change the answer); `check_offsets`
//! agrees with them; an accepted batch's items tile its values; `all_finite` (SIMD) agrees with
//! the scalar definition.

use _native::Error;
use _native::packed::{self, Packed};

use crate::alloc;

/// The parts of an input (module docs).
pub struct Batch {
    pub what: &'static str,
    pub dim: usize,
    pub offsets: Vec<i64>,
    pub data: Vec<f32>,
}

impl Batch {
    pub fn parse(input: &[u8]) -> Option<Batch> {
        let (head, rest) = input.split_at_checked(5)?;
        let what = if head[0] & 1 == 0 {
            "query"
        } else {
            "document"
        };
        let dim = usize::from(u16::from_le_bytes([head[1], head[2]]));
        let n = usize::from(u16::from_le_bytes([head[3], head[4]]));
        let (offs, vals) = rest.split_at_checked(8 * n)?;
        let offsets = offs
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let data = vals
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        Some(Batch {
            what,
            dim,
            offsets,
            data,
        })
    }
}

/// Equal errors (their `Debug` text, so that a NaN value equals itself).
fn same(a: Option<&Error>, b: Option<&Error>) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// The harness of target `packed` (module docs).
pub fn run(input: &[u8]) {
    let Some(b) = Batch::parse(input) else {
        return;
    };
    let (what, dim) = (b.what, b.dim);
    let scalar = b.data.iter().all(|x| x.is_finite());
    assert_eq!(
        packed::all_finite(&b.data),
        scalar,
        "all_finite differs from is_finite"
    );

    let (new, peak) = alloc::measure(|| Packed::new(what, &b.data, dim, &b.offsets));
    let limit = alloc::bound(input.len());
    assert!(
        peak <= limit,
        "Packed::new: {peak} bytes for {} (bound {limit})",
        input.len()
    );

    let deferred = Packed::deferred(what, &b.data, dim, &b.offsets);
    let checked = deferred
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| p.check_items(what, 0..p.len()).map(|()| p));
    match (&new, &checked) {
        (Ok(a), Ok(d)) => {
            assert_eq!(a.offsets, d.offsets);
            assert!(!a.deferred && d.deferred);
        }
        (Err(a), Err(d)) => assert!(same(Some(a), Some(d)), "new {a:?}, deferred {d:?}"),
        _ => panic!("new {new:?} but deferred + check_items {checked:?}"),
    }
    if let Ok(d) = &deferred {
        // The first item whose check fails names the value `new` names (R-MAXSIM-9).
        let first = (0..d.len()).find_map(|i| d.check_items(what, i..i + 1).err());
        let new = new.as_ref().err();
        assert!(same(first.as_ref(), new), "per-item {first:?}, new {new:?}");
    }
    if let Some(n_tokens) = b.data.len().checked_div(dim) {
        let offsets = packed::check_offsets(what, &b.offsets, n_tokens);
        match (&offsets, &deferred) {
            (Ok(o), Ok(d)) => assert_eq!(o, &d.offsets),
            (Err(e), Err(d)) => assert!(same(Some(e), Some(d)), "{e:?} != {d:?}"),
            (Ok(_), Err(Error::Offsets { .. })) => {} // values not a multiple of dim
            _ => panic!("check_offsets {offsets:?} but deferred {deferred:?}"),
        }
    }
    if let Ok(p) = &new {
        assert_eq!(p.offsets.len(), b.offsets.len());
        let mut total = 0;
        for i in 0..p.len() {
            let item = p.item(i);
            assert!(!item.is_empty() && item.len() % dim == 0);
            total += item.len();
        }
        assert_eq!(total, b.data.len());
        assert!(scalar);
    }
}
