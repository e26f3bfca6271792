//! Range checks for user-supplied parameters, with errors that name the field, the value and
//! what was expected. Callers add the file name.

use std::fmt::Display;

/// A parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}` = {value}: expected {expected}")]
#[non_exhaustive]
pub struct InvalidValue {
    /// Dotted path of the field, e.g. `sample.thickness_nm` or `clusters[1].diameter_nm`.
    pub field: String,
    /// The value as written.
    pub value: String,
    /// The allowed range or form.
    pub expected: String,
}

impl InvalidValue {
    /// A new error. A number written with more than 12 characters outside 10⁻³ … 10⁶ is shown
    /// in exponent form (`1e300`, not 301 digits).
    pub fn new(field: impl Into<String>, value: impl Display, expected: impl Into<String>) -> Self {
        let value = value.to_string();
        let value = match value.parse::<f64>() {
            Ok(v) if value.len() > 12 => show_number(v),
            _ => value,
        };
        Self {
            field: field.into(),
            value,
            expected: expected.into(),
        }
    }

    /// The same error with `prefix.` put before the field path.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// `v` for a message: as Rust writes it within 10⁻³ … 10⁶ (and 0), in exponent form outside
/// (`1e300`, `1e-300`), so that an absurd value does not print as hundreds of digits.
pub fn show_number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-3..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// `lo <= value <= hi`, finite.
pub fn in_range(field: &str, value: f64, lo: f64, hi: f64, unit: &str) -> Result<(), InvalidValue> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value,
            format!("a number in [{lo}, {hi}]{unit}"),
        ))
    }
}

/// `0 < value <= hi`, finite.
pub fn positive_up_to(field: &str, value: f64, hi: f64, unit: &str) -> Result<(), InvalidValue> {
    if value.is_finite() && value > 0.0 && value <= hi {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value,
            format!("a number in (0, {hi}]{unit}"),
        ))
    }
}

/// `lo <= value <= hi` for counts.
pub fn count_in(field: &str, value: usize, lo: usize, hi: usize) -> Result<(), InvalidValue> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            value,
            format!("an integer in [{lo}, {hi}]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_value_and_range() {
        let e = in_range("thickness_nm", -1.0, 0.5, 500.0, " nm")
            .unwrap_err()
            .within("sample");
        assert_eq!(
            e.to_string(),
            "field `sample.thickness_nm` = -1: expected a number in [0.5, 500] nm"
        );
        assert!(positive_up_to("x", f64::NAN, 1.0, "").is_err());
        assert!(count_in("n", 3, 2, 12).is_ok());
        let e = InvalidValue::new("[2].symmetry", 1, "2..=12").within("clusters");
        assert_eq!(e.field, "clusters[2].symmetry");
        assert_eq!(InvalidValue::new("x", 1e300, "").value, "1e300");
        assert_eq!(InvalidValue::new("x", -1e-300, "").value, "-1e-300");
        assert_eq!(InvalidValue::new("x", 0.32, "").value, "0.32");
        assert_eq!(
            InvalidValue::new("x", 4_000_000_000u32, "").value,
            "4000000000"
        );
        assert_eq!(
            InvalidValue::new("x", 4_000_000_000_000u64, "").value,
            "4e12"
        );
        assert_eq!(InvalidValue::new("x", "\"abc\"", "").value, "\"abc\"");
        assert_eq!(show_number(2.5e6), "2.5e6");
        assert_eq!(show_number(0.0), "0");
    }
}
