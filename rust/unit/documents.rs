//! Unit tests of `documents.rs`.

use super::*;
use crate::unit_support::{Rng, batch as packed};

fn batch(rng: &mut Rng, count: usize, hi: usize, dim: usize) -> (Vec<f32>, Vec<i64>) {
    packed(rng, count, 1, hi, dim, |r| 100.0 * r.uniform())
}

/// R-MAXSIM-11: only "float32" and "bfloat16".
#[test]
fn unknown_storage_is_an_error() {
    for name in ["float16", "", "Float32", "bf16", "float64", "bfloat16 "] {
        assert_eq!(
            DocumentSet::new(&[1.0, 2.0], 2, &[0, 1], name).unwrap_err(),
            Error::Storage {
                got: name.to_string()
            }
        );
    }
}

/// R-MAXSIM-11: a finite value that rounds past the largest bfloat16 is an error.
#[test]
fn bf16_overflow_is_an_error() {
    let halfway = f32::from_bits(0x7F7F_8000); // between bfloat16 max and infinity: rounds up
    for big in [3.4e38f32, -3.4e38, f32::MAX, f32::MIN, halfway, -halfway] {
        let data = [0.5, 1.0, -2.0, big, 0.0, 1.0];
        assert_eq!(
            DocumentSet::new(&data, 3, &[0, 1, 2], "bfloat16").unwrap_err(),
            Error::Bf16Overflow {
                what: "document",
                value: big
            }
        );
        assert!(DocumentSet::new(&data, 3, &[0, 1, 2], "float32").is_ok());
    }
    let below = f32::from_bits(0x7F7F_7FFF);
    let d = DocumentSet::new(&[below, -below], 2, &[0, 1], "bfloat16").unwrap();
    match d.view().rows {
        Rows::Bf16(r) => assert_eq!(r, &[0x7F7F, 0xFF7F]),
        _ => panic!("bfloat16 storage viewed as f32"),
    }
}

/// R-MAXSIM-9: the first NaN or infinity is reported with its document, token and component.
#[test]
fn non_finite_values_are_located() {
    let mut rng = Rng(31);
    for case in 0..200 {
        let dim = [1, 2, 3, 8, 17][case % 5];
        let count = rng.size(1, 12);
        let (mut data, offsets) = batch(&mut rng, count, 6, dim);
        let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][case % 3];
        let pos = rng.size(0, data.len() - 1);
        data[pos] = bad;
        // A second bad value later in the buffer must not be the one reported.
        if pos + 1 < data.len() {
            let later = rng.size(pos + 1, data.len() - 1);
            data[later] = f32::INFINITY;
        }
        let row = pos / dim;
        let doc = offsets.iter().rposition(|&o| o as usize <= row).unwrap();
        for storage in ["float32", "bfloat16"] {
            match DocumentSet::new(&data, dim, &offsets, storage).unwrap_err() {
                Error::NonFinite {
                    what,
                    index,
                    token,
                    component,
                    value,
                } => {
                    assert_eq!(what, "document");
                    assert_eq!(
                        (index, token, component),
                        (doc, row - offsets[doc] as usize, pos % dim)
                    );
                    assert_eq!(value.to_bits(), bad.to_bits());
                }
                e => panic!("expected Error::NonFinite, got {e:?}"),
            }
        }
    }
}

#[test]
fn empty_documents_and_zero_dim_are_errors() {
    assert_eq!(
        DocumentSet::new(&[1.0; 4], 2, &[0, 1, 1, 2], "bfloat16").unwrap_err(),
        Error::Empty {
            what: "document",
            index: 1
        }
    );
    assert!(matches!(
        DocumentSet::new(&[], 0, &[0], "float32"),
        Err(Error::Dim { .. })
    ));
}

/// The stored rows, the per-document view, and the accessors, for both storages.
#[test]
fn views_hold_the_stored_rows() {
    let mut rng = Rng(32);
    for dim in [1usize, 2, 5, 16, 33] {
        let (data, offsets) = batch(&mut rng, 7, 9, dim);
        let f = DocumentSet::new(&data, dim, &offsets, "float32").unwrap();
        let b = DocumentSet::new(&data, dim, &offsets, "bfloat16").unwrap();
        let dim_p = dim.div_ceil(2) * 2;
        let n_tokens = data.len() / dim;
        for (set, storage, bytes) in [
            (&f, "float32", n_tokens * dim * 4),
            (&b, "bfloat16", n_tokens * dim_p * 2),
        ] {
            assert_eq!(
                (set.dim(), set.storage(), set.nbytes()),
                (dim, storage, bytes)
            );
            let want: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();
            assert_eq!(set.offsets(), &want[..]);
            let v = set.view();
            assert_eq!((v.dim, v.len(), v.is_empty()), (dim, 7, false));
            assert_eq!(v.offsets, &want[..]);
        }
        assert_eq!(f.view().precision(), Precision::F32);
        assert_eq!(b.view().precision(), Precision::Bf16);
        for i in 0..7 {
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            match f.view().doc(i) {
                (DocRows::F32(r), n) => {
                    assert_eq!(n, end - start);
                    assert_eq!(r, &data[start * dim..end * dim]);
                }
                _ => panic!("f32 storage gave bfloat16 rows"),
            }
            match b.view().doc(i) {
                (DocRows::Bf16(r), n) => {
                    assert_eq!((n, r.len()), (end - start, (end - start) * dim_p));
                    for (t, row) in r.chunks_exact(dim_p).enumerate() {
                        for (k, &x) in row.iter().enumerate() {
                            let want = if k < dim {
                                bf16::from_f32(data[(start + t) * dim + k], "t").unwrap()
                            } else {
                                0
                            };
                            assert_eq!(x, want, "doc {i} token {t} component {k}");
                        }
                    }
                }
                _ => panic!("bfloat16 storage gave f32 rows"),
            }
        }
    }
    let empty = DocumentSet::new(&[], 4, &[0], "bfloat16").unwrap();
    assert!(empty.view().is_empty());
    assert_eq!(empty.nbytes(), 0);
}
