//! The streaming build (R-INDEX-17) against the in-memory build, and its file names.

use super::*;
use crate::index::build::{Params, build};

#[test]
fn first_commit_segment_names() {
    assert_eq!(segment_name(0), "segment-1.lti");
    assert_eq!(segment_name(1), "segment-1-2.lti");
    assert_eq!(segment_name(41), "segment-1-42.lti");
    for i in 1..50 {
        assert!(is_first_commit_segment(&segment_name(i)));
    }
    for name in [
        "segment-1.lti",
        "segment-1-.lti",
        "segment-1-x.lti",
        "segment-2-2.lti",
        "segment-1-2.lti.tmp",
        "segment-1-2.ltx",
    ] {
        assert!(!is_first_commit_segment(name), "{name}");
    }
}

/// R-INDEX-17: batches spilled then built in chunks give the in-memory build's codec file, and
/// segments that hold the documents in order, at most `segment_tokens` tokens each; no spill
/// file is left, and a dropped spill removes everything it wrote.
#[test]
fn streamed_codec_is_the_in_memory_codec() {
    let root = std::env::temp_dir().join(format!("lateint-stream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dim = 8;
    let mut r = crate::unit_support::Rng(5);
    let (data, offsets) = crate::unit_support::batch(&mut r, 90, 1, 9, dim, |r| r.uniform());
    let docs = Packed::new("document", &data, dim, &offsets).unwrap();
    let ids = Ids::Int((0..90).collect());
    let params = Params {
        nbits: 2,
        seed: 9,
        n_centroids: Some(16),
        sample: Some(200),
        iters: 3,
        metadata: "{}".into(),
    };
    let isa = Isa::detect();
    let ok = &mut |_: &str, _, _| Ok(());
    build(&root.join("ref"), isa, &docs, &ids, &params, ok).unwrap();

    let mut spill = Spill::start(&root.join("s")).unwrap();
    for w in [0usize, 7, 30, 31, 90].windows(2) {
        let (a, b) = (offsets[w[0]] as usize, offsets[w[1]] as usize);
        let part: Vec<i64> = offsets[w[0]..=w[1]].iter().map(|&o| o - a as i64).collect();
        let batch = Packed::new("document", &data[a * dim..b * dim], dim, &part).unwrap();
        spill.push(&batch).unwrap();
    }
    assert_eq!(spill.n_docs(), 90);
    spill.build(isa, &ids, &params, 40, ok).unwrap();
    let read = |p: &str| std::fs::read(root.join(p)).unwrap();
    assert_eq!(read("s/codec-1.lti"), read("ref/codec-1.lti"));
    assert!(!root.join("s").join(SPILL_NAME).exists());
    let index = crate::index::Index::open(&root.join("s")).unwrap();
    assert!(index.segments.len() > 3);
    let mut first = 0usize;
    for (i, seg) in index.segments.iter().enumerate() {
        assert_eq!(seg.name, segment_name(i));
        let tokens = offsets[first + seg.n_docs] - offsets[first];
        assert!(tokens <= 40 || seg.n_docs == 1);
        first += seg.n_docs;
    }
    assert_eq!(first, 90);

    let dropped = root.join("dropped");
    let mut spill = Spill::start(&dropped).unwrap();
    spill.push(&docs).unwrap();
    assert!(dropped.join(SPILL_NAME).exists());
    drop(spill);
    assert!(!dropped.exists());
    std::fs::remove_dir_all(&root).unwrap();
}
