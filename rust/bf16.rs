//! bfloat16 rounding (R-MAXSIM-11): the upper 16 bits of an f32, rounded to nearest, ties to even.

use crate::{Error, Result};

/// Rounds a finite `x` to bfloat16 bits, nearest with ties to even.
///
/// Errors with R-MAXSIM-11 when a finite `x` rounds past the largest finite bfloat16.
pub fn from_f32(x: f32, what: &'static str) -> Result<u16> {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16;
    // An exponent of all ones after rounding means the value overflowed to infinity.
    if rounded & 0x7F80 == 0x7F80 {
        return Err(Error::Bf16Overflow { what, value: x });
    }
    Ok(rounded as u16)
}

/// The f32 value of bfloat16 bits (exact).
#[inline(always)]
pub fn to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Rounds each finite value to bfloat16 and back (exact round trip of the rounding).
pub fn round_f32(x: f32, what: &'static str) -> Result<f32> {
    from_f32(x, what).map(to_f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(to_f32(from_f32(1.0, "t").unwrap()), 1.0);
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties to even gives 1.
        assert_eq!(round_f32(1.0 + 2f32.powi(-8), "t").unwrap(), 1.0);
        // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: ties to even gives 1 + 2^-6.
        assert_eq!(
            round_f32(1.0 + 3.0 * 2f32.powi(-8), "t").unwrap(),
            1.0 + 2f32.powi(-6)
        );
        assert_eq!(round_f32(-0.3, "t").unwrap(), -0.30078125);
        assert!(from_f32(f32::MAX, "t").is_err());
        assert!(from_f32(3.0e38, "t").is_ok());
    }

    #[test]
    fn relative_error_is_within_half_ulp() {
        let mut x = 1.0e-30f32;
        while x < 1.0e30 {
            for v in [x, -x, x * 1.37, x * 1.999] {
                let r = round_f32(v, "t").unwrap();
                assert!(((r - v) / v).abs() <= 2f32.powi(-8), "{v} -> {r}");
            }
            x *= 3.7;
        }
    }
}
