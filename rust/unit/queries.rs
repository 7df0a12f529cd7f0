//! Unit tests of `queries.rs`.

use super::*;
use crate::documents::DocumentSet;
use crate::kernel::Isa;
use crate::maxsim::maxsim;

fn rows(len: usize, dim: usize) -> Vec<f32> {
    (0..len * dim)
        .map(|x| (x as f32 * 0.37).sin() * 3.0)
        .collect()
}

/// `qt` is the zero-padded transpose; `qp` is empty for f32.
#[test]
fn f32_layout() {
    for len in [1usize, 2, 15, 16, 17, 33] {
        for dim in [1usize, 3, 8] {
            let r = rows(len, dim);
            let p = Prepared::new(&r, dim, Precision::F32).unwrap();
            assert_eq!((p.len, p.pad, p.dim_p), (len, len.div_ceil(16) * 16, dim));
            assert_eq!(p.pad % LANE_PAD, 0);
            assert_eq!(p.qt.len(), dim * p.pad);
            assert!(p.qp.is_empty());
            for k in 0..dim {
                for i in 0..p.pad {
                    let want = if i < len { r[i * dim + k] } else { 0.0 };
                    assert_eq!(p.qt[k * p.pad + i].to_bits(), want.to_bits());
                }
            }
        }
    }
}

/// bfloat16: values rounded, a zero component row when dim is odd, and `qp` the same bits in
/// `[dim_p / 2][pad][2]` pairs.
#[test]
fn bf16_layout() {
    for len in [1usize, 16, 17] {
        for dim in [1usize, 2, 7] {
            let r = rows(len, dim);
            let p = Prepared::new(&r, dim, Precision::Bf16).unwrap();
            assert_eq!(p.dim_p, dim.div_ceil(2) * 2);
            assert_eq!((p.qt.len(), p.qp.len()), (p.dim_p * p.pad, p.dim_p * p.pad));
            for k in 0..p.dim_p {
                for i in 0..p.pad {
                    let want = if i < len && k < dim {
                        bf16::round_f32(r[i * dim + k], "t").unwrap()
                    } else {
                        0.0
                    };
                    let got = p.qt[k * p.pad + i];
                    assert_eq!(got.to_bits(), want.to_bits(), "token {i} component {k}");
                    assert_eq!(
                        p.qp[((k / 2) * p.pad + i) * 2 + k % 2],
                        (got.to_bits() >> 16) as u16
                    );
                }
            }
        }
    }
}

/// R-MAXSIM-11: queries scored against bfloat16 storage are rounded, and may overflow.
#[test]
fn bf16_query_overflow_is_an_error() {
    assert_eq!(
        Prepared::new(&[1.0, -3.4e38], 2, Precision::Bf16).unwrap_err(),
        Error::Bf16Overflow {
            what: "query",
            value: -3.4e38
        }
    );
    assert!(Prepared::new(&[1.0, -3.4e38], 2, Precision::F32).is_ok());
    let queries = Packed::new("query", &[0.0, 3.4e38], 2, &[0, 1]).unwrap();
    let bf = DocumentSet::new(&[1.0, 0.0], 2, &[0, 1], "bfloat16").unwrap();
    let f = DocumentSet::new(&[1.0, 0.0], 2, &[0, 1], "float32").unwrap();
    assert_eq!(
        maxsim(Isa::detect(), &queries, &bf.view()).unwrap_err(),
        Error::Bf16Overflow {
            what: "query",
            value: 3.4e38
        }
    );
    assert_eq!(
        maxsim(Isa::detect(), &queries, &f.view()).unwrap(),
        (vec![0.0], 1)
    );
}

/// R-MAXSIM-9 for queries: the item, token and component of the first non-finite value.
#[test]
fn non_finite_query_values_are_located() {
    let mut data = rows(9, 3);
    for (pos, bad) in [
        (0usize, f32::NAN),
        (4, f32::INFINITY),
        (26, f32::NEG_INFINITY),
        (14, -f32::NAN),
    ] {
        let saved = data[pos];
        data[pos] = bad;
        match Packed::new("query", &data, 3, &[0, 2, 3, 7, 9]).unwrap_err() {
            Error::NonFinite {
                what,
                index,
                token,
                component,
                value,
            } => {
                let row = pos / 3;
                let (item, first) = [(0, 0), (1, 2), (2, 3), (3, 7)]
                    .into_iter()
                    .rfind(|&(_, o)| o <= row)
                    .unwrap();
                assert_eq!(
                    (what, index, token, component),
                    ("query", item, row - first, pos % 3)
                );
                assert_eq!(value.to_bits(), bad.to_bits());
            }
            e => panic!("expected Error::NonFinite, got {e:?}"),
        }
        data[pos] = saved;
    }
}

/// R-MAXSIM-7.
#[test]
fn dims_must_match() {
    assert_eq!(check_same_dim(8, 8), Ok(()));
    match check_same_dim(128, 96).unwrap_err() {
        Error::Dim { what } => assert!(what.contains("128") && what.contains("96"), "{what}"),
        e => panic!("expected Error::Dim, got {e:?}"),
    }
}

#[test]
fn prepare_all_prepares_each_query() {
    let data = rows(20, 4);
    let packed = Packed::new("query", &data, 4, &[0, 1, 17, 20]).unwrap();
    for precision in [Precision::F32, Precision::Bf16] {
        let all = prepare_all(&packed, precision).unwrap();
        assert_eq!(
            all.iter().map(|p| (p.len, p.pad)).collect::<Vec<_>>(),
            vec![(1, 16), (16, 16), (3, 16)]
        );
        for (i, p) in all.iter().enumerate() {
            assert_eq!(
                p.qt,
                Prepared::new(packed.item(i), 4, precision).unwrap().qt
            );
        }
    }
}
