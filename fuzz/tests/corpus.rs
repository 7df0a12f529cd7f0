//! The fuzz harnesses on the stable compiler: each target's committed corpus replayed through its
//! harness (the regression inputs of past findings among them), and the allocation law of
//! R-INDEX-2 shown directly: every count and section length of every seed file set to huge
//! values, the header CRC made right again, is an error, never a panic, and the reader allocates
//! no more than the file's size.

use std::path::{Path, PathBuf};

use _native::Error;
use _native::index::format::codec::Codec;
use _native::index::format::segment::{self, SegmentIds};
use _native::index::format::{manifest, tombstones};
use lateint_ref_fuzz::alloc::{self, Counting};
use lateint_ref_fuzz::index::{Aligned, fix_crcs};

#[global_allocator]
static ALLOC: Counting = Counting;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{}: {} files", dir.display(), files.len());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn replay(target: &str, run: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let r = std::panic::catch_unwind(|| run(&bytes));
        assert!(r.is_ok(), "{} fails target {target}", path.display());
    }
}

#[test]
fn index_corpus_replays() {
    replay("index", lateint_ref_fuzz::index::run);
}

#[test]
fn packed_corpus_replays() {
    replay("packed", lateint_ref_fuzz::packed::run);
}

/// The seed files of one kind (`stem` in the name), without their flags byte.
fn seeds(stem: &str) -> Vec<Vec<u8>> {
    let s: Vec<Vec<u8>> = corpus("index")
        .into_iter()
        .filter(|(p, _)| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("seed-") && n.contains(stem) && !n.ends_with("-raw")
        })
        .map(|(_, b)| b[1..].to_vec())
        .collect();
    assert!(!s.is_empty(), "no seed {stem}");
    s
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Positions of the header's u64 words that a reader takes as counts or lengths: every field,
/// and each section's offset and length.
fn count_words(b: &[u8]) -> Vec<usize> {
    let (nf, ns) = (u32_at(b, 16), u32_at(b, 20));
    let mut at: Vec<usize> = (0..nf).map(|i| 24 + 8 * i).collect();
    for i in 0..ns {
        at.push(24 + 8 * nf + 24 * i);
        at.push(24 + 8 * nf + 24 * i + 8);
    }
    at
}

const HUGE: [u64; 7] = [
    u64::MAX,
    u64::MAX / 2,
    1 << 62,
    1 << 40,
    (1 << 32) + 1,
    u32::MAX as u64,
    1 << 31,
];

/// The fixture codecs (fuzz/fixtures, written by fuzz/seeds.py).
fn codecs() -> Vec<Codec> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| Codec::from_bytes(Aligned::new(&std::fs::read(p).unwrap()).bytes(), "c", None))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The reader of the kind `stem` on `b` (`codec`: a segment's), measured: its result (Err: the
/// message) and the peak of its allocations, and the bytes of any table its result holds.
fn read(stem: &str, b: &[u8], codec: &Codec) -> Vec<(Result<usize, String>, usize)> {
    let mut hashed = 0;
    let mut out = Vec::new();
    let mut one = |r: &mut dyn FnMut() -> Result<usize, Error>| {
        let (r, peak) = alloc::measure(r);
        out.push((r.map_err(|e| e.to_string()), peak));
    };
    match stem {
        "MANIFEST" => one(&mut || manifest::from_bytes(b).map(|_| 0)),
        "codec" => one(&mut || Codec::from_bytes(b, "codec", None).map(|c| 4 * c.table.capacity())),
        "segment" => {
            one(&mut || SegmentIds::from_bytes(b, "s", None, codec, &mut hashed).map(|_| 0));
            one(&mut || segment::check(b, "s", None, codec, &mut |_| Ok(())).map(|_| 0));
        }
        _ => one(&mut || tombstones::from_bytes(b, "t", None, 1 << 40).map(|_| 0)),
    }
    out
}

/// R-INDEX-2: a header whose counts or section lengths are corrupted to huge values (its CRC
/// made right, so that the checks behind it run) is rejected with a format error naming the
/// requirement, never a panic, and the reader allocates at most the file's size (and 4 KiB for
/// the message) before it says so; a value a reader accepts (a codec's seed, a manifest's
/// generation) stays within `alloc::bound`.
#[test]
fn huge_counts_are_errors_within_the_files_size() {
    let codecs = codecs();
    let (mut cases, mut errors) = (0, 0);
    for stem in ["MANIFEST", "codec", "segment", "tombstones"] {
        for seed in seeds(stem) {
            let crc = u64::from_le_bytes(seed[24 + 56..24 + 64].try_into().unwrap());
            let codec = codecs
                .iter()
                .find(|c| u64::from(c.header_crc) == crc)
                .unwrap_or(&codecs[0]);
            for at in count_words(&seed) {
                for huge in HUGE {
                    let mut f = Aligned::new(&seed);
                    f.bytes_mut()[at..at + 8].copy_from_slice(&huge.to_le_bytes());
                    fix_crcs(f.bytes_mut());
                    let len = f.bytes().len();
                    for (r, peak) in read(stem, f.bytes(), codec) {
                        cases += 1;
                        let what = format!("{stem} word at {at} = {huge}: {r:?}, {peak} bytes");
                        match r {
                            Err(msg) => {
                                errors += 1;
                                assert!(msg.starts_with("R-INDEX-2: "), "{what}");
                                assert!(peak <= len + 4096, "{what}, file of {len}");
                            }
                            Ok(table) => assert!(peak <= alloc::bound(len) + table, "{what}"),
                        }
                    }
                }
            }
        }
    }
    println!("{cases} corrupted headers, {errors} rejected");
    assert!(
        cases > 500 && errors * 10 > cases * 8,
        "{errors} of {cases} rejected"
    );
}
