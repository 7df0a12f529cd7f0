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
            let buckets: Buckets =
                quantize::fit(dim, nbits, 200, |p, d| residuals[p * dim + d], &mut |_| {
                    Ok(())
                })
                .unwrap();
            assert_eq!(buckets.weights.len(), dim * b);
            let table = buckets.table(dim);
            let c: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let x: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let mut code = vec![0u8; quantize::code_bytes(dim, nbits)];
            buckets.encode(&buckets.coder(), &x, &c, &mut code);
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
            let buckets =
                quantize::fit(dim, nbits, 200, |p, d| residuals[p * dim + d], &mut |_| {
                    Ok(())
                })
                .unwrap();
            let c: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let x: Vec<f32> = (0..dim).map(|_| r.uniform()).collect();
            let mut code = vec![0u8; quantize::code_bytes(dim, nbits)];
            buckets.encode(&buckets.coder(), &x, &c, &mut code);
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
    let (len, _) = container::write_atomic(
        &dir,
        "f.lti",
        Kind::Codec,
        &[1, 2, 3],
        &sections,
        &mut |_, _| Ok(()),
    )
    .unwrap();
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

/// The file names and bytes of an index directory, `LOCK` aside.
fn files_of(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "LOCK")
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// R-INDEX-8: a build or an addition whose progress hook fails at any of its reports returns that
/// error and leaves the directory as it was: no directory after a build, the last commit's files
/// after an addition; the same calls then succeed with the same bytes.
#[test]
fn stopped_builds_and_additions_leave_the_directory_as_it_was() {
    use super::build::{Params, append, build};
    use super::format::Ids;
    use crate::kernel::Isa;
    use crate::packed::Packed;
    let root = std::env::temp_dir().join(format!("lateint-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dim = 4;
    let mut r = crate::unit_support::Rng(21);
    let (data, offsets) = crate::unit_support::batch(&mut r, 60, 1, 6, dim, |r| r.uniform());
    let docs = Packed::new("document", &data, dim, &offsets).unwrap();
    let (more_data, more_offsets) =
        crate::unit_support::batch(&mut r, 20, 1, 6, dim, |r| r.uniform());
    let more = Packed::new("document", &more_data, dim, &more_offsets).unwrap();
    let ids = Ids::Int((0..60).collect());
    let more_ids = Ids::Int((60..80).collect());
    let params = Params {
        nbits: 2,
        seed: 3,
        n_centroids: None,
        sample: None,
        iters: 2,
        metadata: "{}".into(),
    };
    let isa = Isa::detect();
    let stopping = |stop: usize| {
        let mut seen = 0;
        move |_: &str, _: u64, _: u64| {
            seen += 1;
            if seen > stop {
                Err(Error::Interrupted)
            } else {
                Ok(())
            }
        }
    };
    let reference = root.join("reference");
    let mut n_build = 0;
    build(&reference, isa, &docs, &ids, &params, &mut |_, _, _| {
        n_build += 1;
        Ok(())
    })
    .unwrap();
    let built = files_of(&reference);
    let mut n_append = 0;
    append(&reference, isa, &more, &more_ids, false, &mut |_, _, _| {
        n_append += 1;
        Ok(())
    })
    .unwrap();
    let added = files_of(&reference);
    assert!(n_build > 5 && n_append > 3, "{n_build} {n_append}");

    let dir = root.join("index");
    for stop in 0..n_build {
        let got = build(&dir, isa, &docs, &ids, &params, &mut stopping(stop));
        assert_eq!(
            got,
            Err(Error::Interrupted),
            "build stopped at report {stop}"
        );
        assert!(!dir.exists(), "build stopped at report {stop} left files");
    }
    build(&dir, isa, &docs, &ids, &params, &mut |_, _, _| Ok(())).unwrap();
    assert_eq!(files_of(&dir), built);
    for stop in 0..n_append {
        let got = append(&dir, isa, &more, &more_ids, false, &mut stopping(stop));
        assert_eq!(
            got,
            Err(Error::Interrupted),
            "addition stopped at report {stop}"
        );
        assert_eq!(files_of(&dir), built, "addition stopped at report {stop}");
    }
    append(&dir, isa, &more, &more_ids, false, &mut |_, _, _| Ok(())).unwrap();
    assert_eq!(files_of(&dir), added);
    std::fs::remove_dir_all(&root).unwrap();
}

/// R-INDEX-9, R-INDEX-10, R-INDEX-12: tombstones round-trip and are checked on open (increasing,
/// below n_docs); a delete tombstones by id and refuses unknown ids; a compaction stopped at
/// any report leaves the files as they were, and once done keeps the live documents' codes.
#[test]
fn tombstones_delete_and_stopped_compactions() {
    use super::build::{Params, build};
    use super::format::{Ids, tombstones};
    use super::{Index, compact::compact, delete::delete};
    use crate::kernel::Isa;
    use crate::packed::Packed;
    let root = std::env::temp_dir().join(format!("lateint-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let entry = tombstones::write(&root, "t.lti", 10, &[1, 4, 9], &mut |_, _| Ok(())).unwrap();
    assert_eq!(tombstones::read(&root, &entry, 10).unwrap(), vec![1, 4, 9]);
    assert!(tombstones::read(&root, &entry, 11).is_err());
    for bad in [&[4u64, 1][..], &[1, 1], &[10]] {
        let e = tombstones::write(&root, "b.lti", 10, bad, &mut |_, _| Ok(())).unwrap();
        assert!(matches!(
            tombstones::read(&root, &e, 10),
            Err(Error::Format { .. })
        ));
    }
    let dim = 4;
    let mut r = crate::unit_support::Rng(5);
    let (data, offsets) = crate::unit_support::batch(&mut r, 30, 1, 5, dim, |r| r.uniform());
    let docs = Packed::new("document", &data, dim, &offsets).unwrap();
    let params = Params {
        nbits: 2,
        seed: 1,
        n_centroids: None,
        sample: None,
        iters: 2,
        metadata: "{}".into(),
    };
    let dir = root.join("index");
    build(
        &dir,
        Isa::detect(),
        &docs,
        &Ids::Int((0..30).collect()),
        &params,
        &mut |_, _, _| Ok(()),
    )
    .unwrap();
    assert_eq!(delete(&dir, &Ids::Int(vec![3, 7, 3])).unwrap(), 2);
    assert!(matches!(
        delete(&dir, &Ids::Int(vec![3, 8])),
        Err(Error::Param {
            rule: "R-INDEX-10",
            ..
        })
    ));
    let before = files_of(&dir);
    let index = Index::open(&dir).unwrap();
    assert_eq!(index.tombstones(), &[3, 7]);
    let mut n = 0;
    compact(&dir, &mut |_, _, _| {
        n += 1;
        Ok(())
    })
    .unwrap();
    let compacted = Index::open(&dir).unwrap();
    assert_eq!(compacted.n_docs(), 28);
    for (new, old) in (0..30).filter(|p| *p != 3 && *p != 7).enumerate() {
        assert_eq!(compacted.codes(new).unwrap(), index.codes(old).unwrap());
    }
    drop((index, compacted));
    std::fs::remove_dir_all(&dir).unwrap();
    build(
        &dir,
        Isa::detect(),
        &docs,
        &Ids::Int((0..30).collect()),
        &params,
        &mut |_, _, _| Ok(()),
    )
    .unwrap();
    delete(&dir, &Ids::Int(vec![3, 7])).unwrap();
    assert_eq!(files_of(&dir), before);
    for stop in 0..n {
        let mut seen = 0;
        let got = compact(&dir, &mut |_, _, _| {
            seen += 1;
            if seen > stop {
                Err(Error::Interrupted)
            } else {
                Ok(())
            }
        });
        assert_eq!(
            got,
            Err(Error::Interrupted),
            "compaction stopped at report {stop}"
        );
        assert_eq!(
            files_of(&dir),
            before,
            "compaction stopped at report {stop}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// R-INDEX-3, R-INDEX-9: a manifest names one tombstones file at most, after the segments; one
/// elsewhere, or two, is refused on open.
#[test]
fn tombstones_entry_comes_last_once() {
    use super::format::manifest::{self, Entry, ROLE_CODEC, ROLE_SEGMENT, ROLE_TOMBSTONES};
    let dir = std::env::temp_dir().join(format!("lateint-manifest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let e = |role: u32, name: &str| Entry {
        role,
        len: 1,
        header_crc: 0,
        name: name.into(),
    };
    let (c, s, t) = (
        e(ROLE_CODEC, "c"),
        e(ROLE_SEGMENT, "s"),
        e(ROLE_TOMBSTONES, "t"),
    );
    let cases: [(Vec<Entry>, bool); 5] = [
        (vec![c.clone(), s.clone(), t.clone()], true),
        (vec![c.clone(), s.clone()], true),
        (vec![c.clone(), t.clone(), s.clone()], false),
        (vec![c.clone(), t.clone()], false),
        (vec![c.clone(), s.clone(), t.clone(), t.clone()], false),
    ];
    for (entries, good) in cases {
        let fields = [1, entries.len() as u64, 4, 2, 1, 1];
        manifest::write(&dir, fields, &entries, &mut || {}).unwrap();
        assert_eq!(manifest::read(&dir).is_ok(), good, "{entries:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writers_hash_only_the_ids_of_earlier_segments() {
    // R-INDEX-16: the state an addition reads hashes the ids sections of the committed segments
    // and no other of their bytes, however many segments there are.
    use super::build::{Params, append, build};
    use super::committed::Committed;
    use super::format::Ids;
    use super::format::manifest::ROLE_SEGMENT;
    use crate::kernel::Isa;
    use crate::packed::Packed;
    let root = std::env::temp_dir().join(format!("lateint-writer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dim = 4;
    let mut r = crate::unit_support::Rng(9);
    let (data, offsets) = crate::unit_support::batch(&mut r, 40, 1, 5, dim, |r| r.uniform());
    let docs = Packed::new("document", &data, dim, &offsets).unwrap();
    let params = Params {
        nbits: 2,
        seed: 1,
        n_centroids: None,
        sample: None,
        iters: 2,
        metadata: "{}".into(),
    };
    let dir = root.join("index");
    let ids = Ids::Int((0..40).collect());
    build(&dir, Isa::detect(), &docs, &ids, &params, &mut |_, _, _| {
        Ok(())
    })
    .unwrap();
    for round in 1..6i64 {
        let more = Ids::Int((0..40).map(|i| round * 100 + i).collect());
        append(&dir, Isa::detect(), &docs, &more, false, &mut |_, _, _| {
            Ok(())
        })
        .unwrap();
        let state = Committed::open(&dir).unwrap();
        let mut ids_bytes = 0u64;
        let mut all_bytes = 0u64;
        for e in state.entries.iter().filter(|e| e.role == ROLE_SEGMENT) {
            let bytes = std::fs::read(dir.join(&e.name)).unwrap();
            let layout = [(container::VERSION_ANISO, 9, 9)];
            let p = container::parse_versions(
                &bytes,
                &e.name,
                Kind::Segment,
                &layout,
                &|_| true,
                &mut |_| Ok(()),
            )
            .unwrap();
            ids_bytes += (p.sections[5].len() + p.sections[6].len()) as u64;
            all_bytes += bytes.len() as u64;
        }
        assert_eq!(state.segments.len(), round as usize + 1);
        assert_eq!(state.segment_bytes_hashed, ids_bytes);
        assert!(ids_bytes * 4 < all_bytes);
        assert_eq!(
            state.find(&Ids::Int(vec![round * 100 + 3])).unwrap()[0],
            Some(40 * round as usize + 3)
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// R-QUANT-7: the nearest row is the same on every instruction set, and it is the first row of
/// least `n_u + sum_i (-2 r_i) * T[u][i]` computed one f32 rounding at a time.
#[test]
fn nearest_rows_agree_on_every_instruction_set() {
    for per in [2usize, 4, 8] {
        let mut r = crate::unit_support::Rng(per as u64);
        // Rows with repeats, so that ties occur, and residuals near and far from them.
        let rows: Vec<f32> = (0..256 * per)
            .map(|i| if i % 7 == 0 { 0.25 } else { r.uniform() })
            .collect();
        let soa = quantize::transposed(&rows, per);
        for t in 0..500 {
            let x: Vec<f32> = if t % 5 == 0 {
                rows[(t % 256) * per..(t % 256 + 1) * per].to_vec()
            } else {
                (0..per).map(|_| 2.0 * r.uniform()).collect()
            };
            let value = |u: usize| {
                let mut n = 0.0f32;
                for i in 0..per {
                    n += rows[u * per + i] * rows[u * per + i];
                }
                for i in 0..per {
                    n += (-2.0 * x[i]) * rows[u * per + i];
                }
                n
            };
            let mut want = 0;
            for u in 1..256 {
                if value(u) < value(want) {
                    want = u;
                }
            }
            for isa in crate::kernel::Isa::available() {
                assert_eq!(
                    quantize::nearest(isa, &soa, &x) as usize,
                    want,
                    "{per} {t} {isa:?}"
                );
            }
        }
    }
}

/// R-QUANT-8: the codes along the token are the same on every instruction set, start from
/// R-QUANT-7's nearest rows (no pass: those rows), and no pass raises the token's objective
/// beyond rounding.
#[test]
fn codes_along_the_token_agree_on_every_instruction_set() {
    use crate::index::aniso::{self, Params};
    use crate::index::quantize::Aniso;
    for per in [2usize, 4, 8] {
        let mut r = crate::unit_support::Rng(10 + per as u64);
        let full = 64 / per;
        let rows: Vec<f32> = (0..full * 256 * per)
            .map(|_| 0.2 * (r.uniform() - 0.5))
            .collect();
        let soa: Vec<f32> = rows
            .chunks_exact(256 * per)
            .flat_map(|b| quantize::transposed(b, per))
            .collect();
        let objective = |x: &[f32], c: &[f32], code: &[u8]| {
            let (mut sq, mut along, mut norm) = (0.0f64, 0.0f64, 0.0f64);
            for d in 0..64 {
                let v = c[d] + rows[((d / per) * 256 + code[d / per] as usize) * per + d % per];
                let e = f64::from(x[d] - v);
                sq += e * e;
                along += e * f64::from(x[d]);
                norm += f64::from(x[d]) * f64::from(x[d]);
            }
            sq + along * along / norm
        };
        for t in 0..200 {
            let x: Vec<f32> = (0..64).map(|_| r.uniform() - 0.5).collect();
            let c: Vec<f32> = x.iter().map(|v| v + 0.1 * (r.uniform() - 0.5)).collect();
            let mut nearest = vec![0u8; full];
            let mut res = [0.0f32; 8];
            for b in 0..full {
                for i in 0..per {
                    res[i] = x[b * per + i] - c[b * per + i];
                }
                let part = &soa[b * (per + 1) * 256..(b + 1) * (per + 1) * 256];
                nearest[b] = quantize::nearest(crate::kernel::Isa::Scalar, part, &res[..per]);
            }
            let mut want = vec![0u8; full];
            aniso::encode(
                crate::kernel::Isa::Scalar,
                &soa,
                Params::new(aniso::DEFAULT),
                &x,
                &c,
                &mut want,
            );
            assert!(objective(&x, &c, &want) <= objective(&x, &c, &nearest) + 1e-6);
            let mut none = vec![0u8; full];
            let zero = Params::new(Aniso {
                weight: 2.0,
                sweeps: 0,
            });
            aniso::encode(crate::kernel::Isa::Scalar, &soa, zero, &x, &c, &mut none);
            assert_eq!(none, nearest);
            for isa in crate::kernel::Isa::available() {
                let mut got = vec![0u8; full];
                aniso::encode(isa, &soa, Params::new(aniso::DEFAULT), &x, &c, &mut got);
                assert_eq!(got, want, "{per} {t} {isa:?}");
            }
        }
    }
}
