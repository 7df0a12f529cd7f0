//! Unit tests of the byte-slice entry points of the index file readers (`index/format/`), and
//! the regressions of the fuzz target `index` (fuzz/README.md; its corpus holds the inputs).

use super::container::{self, Kind};
use super::manifest::{self, Entry, ROLE_CODEC, ROLE_SEGMENT};
use super::tombstones;
use crate::Error;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lateint-format-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A manifest table of a codec and one segment (R-INDEX-3).
fn table() -> Vec<u8> {
    let mut t = Vec::new();
    for (role, name) in [(ROLE_CODEC, "codec-1.lti"), (ROLE_SEGMENT, "segment-1.lti")] {
        t.extend_from_slice(&role.to_le_bytes());
        t.extend_from_slice(&[0; 4]);
        t.extend_from_slice(&100u64.to_le_bytes());
        t.extend_from_slice(&[0; 8]);
        let mut n = [0u8; 40];
        n[..name.len()].copy_from_slice(name.as_bytes());
        t.extend_from_slice(&n);
    }
    t
}

/// R-INDEX-2, R-INDEX-3: a manifest whose `n_files` is so large that its table's size overflows
/// (its CRC right) is a format error naming the count, not an overflow panic (fuzz finding 1:
/// the error message multiplied the count unchecked); `read` and `from_bytes` say the same.
#[test]
fn manifest_with_an_overflowing_file_count_is_a_format_error() {
    let dir = temp_dir("manifest");
    let t = table();
    for n_files in [2u64, 3, u64::MAX / 2, u64::MAX / 64 + 1, u64::MAX] {
        let fields = [1, n_files, 4, 2, 6, 9];
        let sections: [&[u8]; 1] = [&t];
        container::write_atomic(
            &dir,
            manifest::MANIFEST,
            Kind::Manifest,
            &fields,
            &sections,
            &mut |_, _| Ok(()),
        )
        .unwrap();
        let bytes = std::fs::read(dir.join(manifest::MANIFEST)).unwrap();
        let from_bytes = manifest::from_bytes(&bytes);
        assert_eq!(from_bytes, manifest::read(&dir));
        if n_files == 2 {
            let (f, entries, len) = from_bytes.unwrap();
            assert_eq!((f, entries.len(), len), (fields, 2, bytes.len() as u64));
            continue;
        }
        let e = from_bytes.unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e:?}");
        let want = format!("{n_files} entries of 64 bytes, the table holds 128 bytes");
        assert!(
            e.to_string().starts_with("R-INDEX-2: MANIFEST: ") && e.to_string().ends_with(&want),
            "{e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The byte-slice reader of tombstones is the path reader: the same result from the same bytes,
/// and the entry's header CRC is checked only when an entry is given (R-INDEX-3, R-INDEX-9).
#[test]
fn tombstones_from_bytes_is_read() {
    let dir = temp_dir("tombstones");
    let entry = tombstones::write(&dir, "t.lti", 10, &[1, 4, 9], &mut |_, _| Ok(())).unwrap();
    let bytes = std::fs::read(dir.join("t.lti")).unwrap();
    for n_docs in [10, 11] {
        assert_eq!(
            tombstones::from_bytes(&bytes, "t.lti", Some(&entry), n_docs),
            tombstones::read(&dir, &entry, n_docs)
        );
    }
    let other = Entry {
        header_crc: entry.header_crc ^ 1,
        ..entry.clone()
    };
    let e = tombstones::from_bytes(&bytes, "t.lti", Some(&other), 10).unwrap_err();
    assert!(e.to_string().contains("the manifest says"), "{e}");
    assert_eq!(
        tombstones::from_bytes(&bytes, "t.lti", None, 10),
        Ok(vec![1, 4, 9])
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
