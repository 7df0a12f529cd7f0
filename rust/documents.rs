//! Documents as the scorers read them: a borrowed f32 packed batch, or an owned `DocumentSet`
//! stored once in f32 or bfloat16 (R-MAXSIM-3, R-MAXSIM-11).

use rayon::prelude::*;

use crate::bf16;
use crate::kernel::DocRows;
use crate::memory;
use crate::packed::Packed;
use crate::queries::Precision;
use crate::{Error, Result};

/// Token rows of all documents, in one buffer.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// `[n_tokens][dim] f32`.
    F32(&'a [f32]),
    /// `[n_tokens][dim_p] u16` bfloat16, `dim_p = 2 * ceil(dim / 2)`.
    Bf16(&'a [u16]),
}

/// A validated view of the documents the scorers read.
#[derive(Debug, Clone, Copy)]
pub struct Docs<'a> {
    /// Components per token.
    pub dim: usize,
    /// `[n_docs + 1]`, strictly increasing from 0 to n_tokens.
    pub offsets: &'a [usize],
    /// The token rows.
    pub rows: Rows<'a>,
}

impl<'a> Docs<'a> {
    /// Views a validated f32 packed batch.
    pub fn from_packed(p: &'a Packed<'a>) -> Self {
        Docs {
            dim: p.dim,
            offsets: &p.offsets,
            rows: Rows::F32(p.data),
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there is no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The arithmetic the rows call for.
    pub fn precision(&self) -> Precision {
        match self.rows {
            Rows::F32(_) => Precision::F32,
            Rows::Bf16(_) => Precision::Bf16,
        }
    }

    /// Document `i`: its rows and its number of tokens (>= 1).
    pub fn doc(&self, i: usize) -> (DocRows<'a>, usize) {
        let (start, end) = (self.offsets[i], self.offsets[i + 1]);
        match self.rows {
            Rows::F32(r) => (
                DocRows::F32(&r[start * self.dim..end * self.dim]),
                end - start,
            ),
            Rows::Bf16(r) => {
                let dim_p = self.dim.div_ceil(2) * 2;
                (DocRows::Bf16(&r[start * dim_p..end * dim_p]), end - start)
            }
        }
    }
}

/// Values converted per parallel task when storing bfloat16 documents.
const COPY_CHUNK: usize = 1 << 16;

/// Owned storage of a `DocumentSet`.
#[derive(Debug, Clone)]
enum Store {
    F32(Vec<f32>),
    Bf16(Vec<u16>),
}

/// Documents validated and stored once, to be scored against many queries.
#[derive(Debug, Clone)]
pub struct DocumentSet {
    dim: usize,
    offsets: Vec<usize>,
    store: Store,
}

impl DocumentSet {
    /// Validates a packed batch `data: [n_tokens * dim] f32`, `offsets: [n_docs + 1]` and stores
    /// it as `storage` ("float32" or "bfloat16", rounded to nearest even).
    pub fn new(data: &[f32], dim: usize, offsets: &[i64], storage: &str) -> Result<Self> {
        let precision = match storage {
            "float32" => Precision::F32,
            "bfloat16" => Precision::Bf16,
            other => {
                return Err(Error::Storage {
                    got: other.to_string(),
                });
            }
        };
        let packed = Packed::new("document", data, dim, offsets)?;
        let store = match precision {
            Precision::F32 => {
                let mut out = memory::reserve(data.len())?;
                out.extend_from_slice(data);
                Store::F32(out)
            }
            Precision::Bf16 => {
                let dim_p = dim.div_ceil(2) * 2;
                let mut out = memory::zeroed::<u16>(data.len() / dim * dim_p)?;
                let rows = COPY_CHUNK / dim_p + 1;
                let converted = out
                    .par_chunks_mut(rows * dim_p)
                    .zip(data.par_chunks(rows * dim))
                    .all(|(dst, src)| {
                        src.chunks_exact(dim)
                            .zip(dst.chunks_exact_mut(dim_p))
                            .all(|(s, d)| {
                                s.iter().zip(d.iter_mut()).all(|(x, y)| {
                                    bf16::from_f32(*x, "document").map(|b| *y = b).is_ok()
                                })
                            })
                    });
                if !converted {
                    // Report the first overflowing value in storage order, whatever the threads.
                    for x in data {
                        bf16::from_f32(*x, "document")?;
                    }
                }
                Store::Bf16(out)
            }
        };
        Ok(DocumentSet {
            dim,
            offsets: packed.offsets,
            store,
        })
    }

    /// The view the scorers read.
    pub fn view(&self) -> Docs<'_> {
        let rows = match &self.store {
            Store::F32(v) => Rows::F32(v),
            Store::Bf16(v) => Rows::Bf16(v),
        };
        Docs {
            dim: self.dim,
            offsets: &self.offsets,
            rows,
        }
    }

    /// Components per token.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// `[n_docs + 1]` token offsets.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// "float32" or "bfloat16".
    pub fn storage(&self) -> &'static str {
        match self.store {
            Store::F32(_) => "float32",
            Store::Bf16(_) => "bfloat16",
        }
    }

    /// Bytes held by the token rows.
    pub fn nbytes(&self) -> usize {
        match &self.store {
            Store::F32(v) => v.len() * 4,
            Store::Bf16(v) => v.len() * 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a tiny seeded generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn int(&mut self, lo: usize, hi: usize) -> usize {
            lo + (self.next() % (hi - lo + 1) as u64) as usize
        }
        fn uniform(&mut self) -> f32 {
            ((self.next() >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        }
    }

    fn batch(rng: &mut Rng, count: usize, hi: usize, dim: usize) -> (Vec<f32>, Vec<i64>) {
        let mut o = vec![0i64];
        for _ in 0..count {
            o.push(o.last().unwrap() + rng.int(1, hi) as i64);
        }
        (
            (0..*o.last().unwrap() as usize * dim)
                .map(|_| 100.0 * rng.uniform())
                .collect(),
            o,
        )
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
            Rows::F32(_) => panic!("bfloat16 storage viewed as f32"),
        }
    }

    /// R-MAXSIM-9: the first NaN or infinity is reported with its document, token and component.
    #[test]
    fn non_finite_values_are_located() {
        let mut rng = Rng(31);
        for case in 0..200 {
            let dim = [1, 2, 3, 8, 17][case % 5];
            let count = rng.int(1, 12);
            let (mut data, offsets) = batch(&mut rng, count, 6, dim);
            let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][case % 3];
            let pos = rng.int(0, data.len() - 1);
            data[pos] = bad;
            // A second bad value later in the buffer must not be the one reported.
            if pos + 1 < data.len() {
                let later = rng.int(pos + 1, data.len() - 1);
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
}
