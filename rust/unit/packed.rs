//! Unit tests of `packed.rs`.

use super::*;

#[test]
fn accepts_valid_and_reports_each_fault() {
    let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let p = Packed::new("document", &data, 2, &[0, 1, 3]).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p.item(1), &[3.0, 4.0, 5.0, 6.0]);
    assert!(matches!(
        Packed::new("document", &data, 2, &[1, 3]),
        Err(Error::Offsets { .. })
    ));
    assert!(matches!(
        Packed::new("document", &data, 2, &[0, 2]),
        Err(Error::Offsets { .. })
    ));
    assert!(matches!(
        Packed::new("document", &data, 2, &[0, 2, 1, 3]),
        Err(Error::Offsets { .. })
    ));
    assert_eq!(
        Packed::new("document", &data, 2, &[0, 0, 3]).unwrap_err(),
        Error::Empty {
            what: "document",
            index: 0
        }
    );
    assert!(matches!(
        Packed::new("query", &data, 0, &[0]),
        Err(Error::Dim { .. })
    ));
    let nan = [1.0f32, 2.0, 3.0, f32::NAN];
    match Packed::new("query", &nan, 2, &[0, 1, 2]).unwrap_err() {
        Error::NonFinite {
            index,
            token,
            component,
            ..
        } => {
            assert_eq!((index, token, component), (1, 0, 1))
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn zero_items_is_valid() {
    let p = Packed::new("document", &[], 4, &[0]).unwrap();
    assert!(p.is_empty());
}
