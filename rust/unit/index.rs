//! Unit tests of the index modules: the sample, the bucket tables, the container and the files.

use super::format::container::{self, Kind};
use super::quantize::{self, Buckets};
use super::rng;
use crate::Error;

#[test]
fn sample_is_a_seeded_prefix_of_a_permutation() {
    let s = rng::sample(1000, 1000, 7);
    let mut sorted = s.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_eq!(rng::sample(1000, 10, 7), s[..10].to_vec());
    assert_ne!(rng::sample(1000, 10, 8), s[..10].to_vec());
}

#[test]
fn table_decoding_equals_direct_decoding() {
    for nbits in [1usize, 2, 4] {
        for dim in [1usize, 3, 8, 13, 128] {
            let b = 1usize << nbits;
            let mut r = crate::unit_support::Rng(nbits as u64 * 100 + dim as u64);
            let residuals: Vec<f32> = (0..200 * dim).map(|_| r.uniform()).collect();
            let buckets: Buckets = quantize::fit(dim, nbits, 200, |p, d| residuals[p * dim + d]);
            assert_eq!(buckets.weights.len(), dim * b);
            let table = buckets.table(dim);
            let c: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let x: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let mut code = vec![0u8; quantize::code_bytes(dim, nbits)];
            buckets.encode(&x, &c, &mut code);
            let (mut a, mut t) = (vec![0.0f32; dim], vec![0.0f32; dim]);
            buckets.decode(&code, &c, &mut a);
            buckets.decode_table(&table, &code, &c, &mut t);
            assert_eq!(a, t, "nbits {nbits} dim {dim}");
        }
    }
}

/// R-INDEX-5 section 3 and R-QUANT-3: `unpack` reads back the buckets `encode` packed, least
/// significant bit first, and `decode` adds the value of exactly that bucket.
#[test]
fn unpacked_buckets_are_the_encoded_ones() {
    for nbits in [1usize, 2, 4] {
        for dim in [1usize, 3, 8, 13, 128] {
            let b = 1usize << nbits;
            let mut r = crate::unit_support::Rng(nbits as u64 * 1000 + dim as u64);
            let residuals: Vec<f32> = (0..200 * dim).map(|_| r.uniform()).collect();
            let buckets = quantize::fit(dim, nbits, 200, |p, d| residuals[p * dim + d]);
            let c: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let x: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let mut code = vec![0u8; quantize::code_bytes(dim, nbits)];
            buckets.encode(&x, &c, &mut code);
            let mut got = vec![0u8; dim];
            quantize::unpack(&code, nbits, &mut got);
            let mut decoded = vec![0.0f32; dim];
            buckets.decode(&code, &c, &mut decoded);
            for d in 0..dim {
                let cut = &buckets.cutoffs[d * (b - 1)..(d + 1) * (b - 1)];
                let want = cut.iter().filter(|&&t| t < x[d] - c[d]).count();
                assert_eq!(
                    got[d] as usize, want,
                    "nbits {nbits} dim {dim} component {d}"
                );
                let bits = (code[d * nbits / 8] >> ((d * nbits) % 8)) as usize & (b - 1);
                assert_eq!(bits, want);
                assert_eq!(decoded[d], c[d] + buckets.weights[d * b + want]);
            }
        }
    }
}

#[test]
fn container_round_trips_and_rejects_every_flip() {
    let dir = std::env::temp_dir().join(format!("lateint-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sections: [&[u8]; 3] = [b"abc", b"", &[7u8; 70]];
    let (len, _) =
        container::write_atomic(&dir, "f.lti", Kind::Codec, &[1, 2, 3], &sections).unwrap();
    let bytes = std::fs::read(dir.join("f.lti")).unwrap();
    assert_eq!(bytes.len() as u64, len);
    let p = container::parse(&bytes, "f", Kind::Codec, 3, 3).unwrap();
    assert_eq!(p.fields, vec![1, 2, 3]);
    assert_eq!(p.sections, sections.to_vec());
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x5A;
        let e = container::parse(&bad, "f", Kind::Codec, 3, 3).err();
        assert!(
            matches!(e, Some(Error::Format { .. })),
            "flip at {at} accepted"
        );
    }
    for cut in 0..bytes.len() {
        assert!(container::parse(&bytes[..cut], "f", Kind::Codec, 3, 3).is_err());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
