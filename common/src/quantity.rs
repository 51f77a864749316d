//! Resource quantities (`100m`, `1.5Gi`, `2e3`) parsed as `k8s.io/apimachinery/pkg/api/resource`
//! parses them, exactly enough to check that they parse, compare them (requests against limits),
//! add and subtract them (the pod's QoS class, quota usage) and write them back in Kubernetes'
//! canonical form (`Display`: `1500m`, `1536Mi`, `1k`), keeping the format they were written in.
//!
//! A value is kept as `mantissa × 10^exponent` with an `i128` mantissa; binary suffixes multiply
//! the mantissa. Numbers too large for that saturate, which only matters far beyond the 2^63
//! Kubernetes itself caps quantities at.

use std::cmp::Ordering;

/// The messages are `resource.ErrFormatWrong` and `resource.ErrSuffix`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

/// How a quantity is written back, from the suffix it was parsed with (`resource.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `1e3`, `5E-3`.
    DecimalExponent,
    /// `1Ki`, `1.5Gi`.
    BinarySI,
    /// `100m`, `1k`, plain numbers.
    DecimalSI,
}

/// The parts of a quantity's text, split as `parseQuantityString` splits them.
struct Parts<'a> {
    positive: bool,
    whole: &'a str,
    fraction: &'a str,
    suffix: &'a str,
}

fn split(text: &str) -> Result<Parts<'_>, QuantityError> {
    let bytes = text.as_bytes();
    let end = bytes.len();
    let mut position = 0;
    let mut positive = true;
    match bytes.first() {
        Some(b'-') => {
            positive = false;
            position += 1;
        }
        Some(b'+') => position += 1,
        _ => {}
    }
    while position < end && bytes[position] == b'0' {
        position += 1;
    }
    let whole_start = position;
    while position < end && bytes[position].is_ascii_digit() {
        position += 1;
    }
    let whole = &text[whole_start..position];
    let mut fraction = "";
    if position < end && bytes[position] == b'.' {
        position += 1;
        let fraction_start = position;
        while position < end && bytes[position].is_ascii_digit() {
            position += 1;
        }
        fraction = &text[fraction_start..position];
    }
    let suffix_start = position;
    while position < end && b"eEinumkKMGTP".contains(&bytes[position]) {
        position += 1;
    }
    if position < end && matches!(bytes[position], b'-' | b'+') {
        position += 1;
    }
    while position < end && bytes[position].is_ascii_digit() {
        position += 1;
    }
    if position != end {
        return Err(QuantityError::Format);
    }
    Ok(Parts { positive, whole, fraction, suffix: &text[suffix_start..] })
}

/// What a suffix multiplies by: `(base, exponent)`.
fn interpret_suffix(suffix: &str) -> Result<(u32, i32), QuantityError> {
    let decimal = |exponent| Ok((10, exponent));
    let binary = |exponent| Ok((2, exponent));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let rest = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E')).ok_or(QuantityError::Suffix)?;
            let exponent: i64 = rest.parse().map_err(|_| QuantityError::Suffix)?;
            // Beyond this the value is 0 or saturated anyway.
            decimal(exponent.clamp(-1000, 1000) as i32)
        }
    }
}

fn saturate(positive: bool) -> i128 {
    if positive { i128::MAX } else { i128::MIN }
}

pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
    if text.is_empty() {
        return Err(QuantityError::Format);
    }
    let parts = split(text)?;
    let (base, suffix_exponent) = interpret_suffix(parts.suffix)?;
    let fraction = parts.fraction.trim_end_matches('0');
    let digits = format!("{}{fraction}", parts.whole);
    let digits = digits.trim_start_matches('0');
    let mut exponent = -(fraction.len() as i32);
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse::<i128>().unwrap_or_else(|_| saturate(true))
    };
    if base == 10 {
        exponent += suffix_exponent;
    } else {
        // 2^60 fits easily; the product may not.
        let factor = 1i128 << suffix_exponent;
        mantissa = mantissa.checked_mul(factor).unwrap_or_else(|| saturate(true));
    }
    if !parts.positive {
        mantissa = -mantissa;
    }
    let format = match (base, parts.suffix.as_bytes().first()) {
        (2, _) => Format::BinarySI,
        (_, Some(b'e' | b'E')) => Format::DecimalExponent,
        _ => Format::DecimalSI,
    };
    Ok(Quantity { mantissa, exponent, format })
}

fn pow10(power: u32) -> Option<i128> {
    10i128.checked_pow(power)
}

impl Quantity {
    /// A whole number in `format`, as `resource.NewQuantity`.
    pub fn new(value: i64, format: Format) -> Self {
        Self { mantissa: i128::from(value), exponent: 0, format }
    }

    /// Thousandths, in `format`, as `resource.NewMilliQuantity`.
    pub fn new_milli(value: i64, format: Format) -> Self {
        Self { mantissa: i128::from(value), exponent: -3, format }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    pub fn is_positive(&self) -> bool {
        self.mantissa > 0
    }

    /// Whether the value is a whole number (extended resources must be).
    pub fn is_integer(&self) -> bool {
        if self.exponent >= 0 || self.mantissa == 0 {
            return true;
        }
        match pow10(self.exponent.unsigned_abs()) {
            Some(divisor) => self.mantissa % divisor == 0,
            // |mantissa| < 10^39 < divisor: only zero divides evenly, handled above.
            None => false,
        }
    }

    /// The value scaled by 10^`scale`, rounded up to a whole number and clamped to i64, as
    /// Kubernetes' `ScaledValue` rounds: a request of 0.5m cpu still takes 1m.
    fn scaled_ceiling(&self, scale: i32) -> i64 {
        let exponent = self.exponent + scale;
        let value = if exponent >= 0 {
            pow10(exponent.unsigned_abs()).and_then(|factor| self.mantissa.checked_mul(factor)).unwrap_or(saturate(self.mantissa > 0))
        } else {
            match pow10(exponent.unsigned_abs()) {
                Some(divisor) => {
                    let quotient = self.mantissa / divisor;
                    if self.mantissa % divisor > 0 { quotient + 1 } else { quotient }
                }
                None => i128::from(self.mantissa > 0),
            }
        };
        i64::try_from(value).unwrap_or(if value > 0 { i64::MAX } else { i64::MIN })
    }

    /// Thousandths, rounded up: how cpu is counted (`100m` is 100, `2` is 2000).
    pub fn milli_value(&self) -> i64 {
        self.scaled_ceiling(3)
    }

    /// The value, rounded up: how memory, pods and other integral resources are counted.
    pub fn value(&self) -> i64 {
        self.scaled_ceiling(0)
    }

    fn approximate(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// Both mantissas at the smaller exponent, if that fits.
    fn aligned(&self, other: &Self) -> Option<(i128, i128, i32)> {
        let exponent = self.exponent.min(other.exponent);
        let scale = |quantity: &Self| {
            pow10((quantity.exponent - exponent).unsigned_abs()).and_then(|factor| quantity.mantissa.checked_mul(factor))
        };
        Some((scale(self)?, scale(other)?, exponent))
    }

    pub fn compare(&self, other: &Self) -> Ordering {
        match self.aligned(other) {
            Some((left, right, _)) => left.cmp(&right),
            None => self.approximate().partial_cmp(&other.approximate()).unwrap_or(Ordering::Equal),
        }
    }

    /// The sum, in this quantity's format unless it is zero (then the other's), as `Add`.
    pub fn add(&self, other: &Self) -> Self {
        let format = if self.is_zero() { other.format } else { self.format };
        let sum = match self.aligned(other) {
            Some((left, right, exponent)) => match left.checked_add(right) {
                Some(mantissa) => Self { mantissa, exponent, format },
                None => Self { mantissa: saturate(left > 0), exponent, format },
            },
            None => {
                if self.approximate().abs() >= other.approximate().abs() {
                    *self
                } else {
                    *other
                }
            }
        };
        Self { format, ..sum }
    }

    /// The difference, formatted as [`Quantity::add`] formats.
    pub fn sub(&self, other: &Self) -> Self {
        self.add(&other.negated())
    }

    pub fn negated(&self) -> Self {
        Self { mantissa: self.mantissa.checked_neg().unwrap_or(i128::MAX), ..*self }
    }

    /// The mantissa and exponent with trailing zeros moved into the exponent, and anything
    /// finer than nano rounded up to nano, as parsing rounds in Kubernetes.
    fn normalized(&self) -> (i128, i32) {
        let (mut mantissa, mut exponent) = (self.mantissa, self.exponent);
        if mantissa == 0 {
            return (0, 0);
        }
        if exponent < -9 {
            let value = Self { exponent: exponent + 9, ..*self }.scaled_ceiling(0);
            mantissa = i128::from(value);
            exponent = -9;
        }
        while mantissa != 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        (mantissa, exponent)
    }

    /// The value as a whole number, when it is one and fits.
    fn exact_integer(&self) -> Option<i128> {
        let (mantissa, exponent) = self.normalized();
        if exponent < 0 {
            return None;
        }
        pow10(exponent.unsigned_abs()).and_then(|factor| mantissa.checked_mul(factor))
    }
}

/// Kubernetes' canonical form (`Quantity.String`): a decimal value as an integer with the
/// largest SI suffix that keeps it whole (`1500m`, `2`, `1k`), a binary one with the largest
/// power-of-1024 suffix when it is a whole number of at least 1024 (`1536Mi`), else decimal.
impl std::fmt::Display for Quantity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.format == Format::BinarySI
            && let Some(mut value) = self.exact_integer()
            && value.abs() >= 1024
        {
            let mut power = 0;
            while power < 6 && value % 1024 == 0 {
                value /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return write!(formatter, "{value}{suffix}");
        }
        let (mut mantissa, mut exponent) = self.normalized();
        if self.format == Format::DecimalExponent {
            // Exponents stay multiples of 3 in this form too.
            while exponent.rem_euclid(3) != 0 {
                mantissa *= 10;
                exponent -= 1;
            }
            return match exponent {
                0 => write!(formatter, "{mantissa}"),
                _ => write!(formatter, "{mantissa}e{exponent}"),
            };
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => return write!(formatter, "{mantissa}e{exponent}"),
        };
        write!(formatter, "{mantissa}{suffix}")
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_values_round_up_as_kubernetes_does() {
        for (text, milli, value) in [
            ("100m", 100, 1),
            ("2", 2000, 2),
            ("1.5", 1500, 2),
            ("0.5m", 1, 1),
            ("64Mi", 67_108_864_000, 67_108_864),
            ("1Gi", 1_073_741_824_000, 1_073_741_824),
            ("1k", 1_000_000, 1000),
            ("0", 0, 0),
        ] {
            assert_eq!((q(text).milli_value(), q(text).value()), (milli, value), "{text}");
        }
        assert_eq!(q("1E").milli_value(), i64::MAX, "saturates");
    }

    fn q(text: &str) -> Quantity {
        parse(text).unwrap_or_else(|err| panic!("{text:?}: {err}"))
    }

    #[test]
    fn parses_every_suffix_form() {
        let equal = [
            ("1", "1000m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1k", "1000"),
            ("1Ki", "1024"),
            ("1.5Gi", "1536Mi"),
            ("1e3", "1k"),
            ("1E-3", "1m"),
            ("1e+3", "1000"),
            ("100n", "0.1u"),
            ("+2", "2"),
            ("-1", "-1000m"),
            ("007", "7"),
            ("1.", "1"),
            ("0", "0m"),
            ("1E", "1000P"),
        ];
        for (left, right) in equal {
            assert_eq!(q(left).compare(&q(right)), Ordering::Equal, "{left} == {right}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        let cases = [
            ("", QuantityError::Format),
            ("abc", QuantityError::Format),
            ("1Gb", QuantityError::Format),
            ("1.5.5", QuantityError::Format),
            ("1 Gi", QuantityError::Format),
            ("1K", QuantityError::Suffix),
            ("1iK", QuantityError::Suffix),
            ("1e", QuantityError::Suffix),
            ("1Mii", QuantityError::Suffix),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).err(), Some(expected.clone()), "{text:?}");
        }
        assert_eq!(
            QuantityError::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn compares_and_adds() {
        assert_eq!(q("500m").compare(&q("1")), Ordering::Less);
        assert_eq!(q("2Gi").compare(&q("2G")), Ordering::Greater);
        assert_eq!(q("1n").compare(&q("1E")), Ordering::Less);
        assert_eq!(q("100m").add(&q("900m")).compare(&q("1")), Ordering::Equal);
        assert_eq!(q("1Ki").add(&q("1k")), q("2024"));
        assert!(q("-1").is_negative());
        assert!(q("1m").is_positive());
        assert!(!q("0").is_positive());
        assert!(q("0").compare(&q("-0")).is_eq());
    }

    #[test]
    fn writes_the_canonical_form() {
        for (text, canonical) in [
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("2000m", "2"),
            ("1000", "1k"),
            ("0", "0"),
            ("1.5Gi", "1536Mi"),
            ("1Gi", "1Gi"),
            ("1000Mi", "1000Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("-1.5", "-1500m"),
            ("10Mi", "10Mi"),
        ] {
            assert_eq!(q(text).to_string(), canonical, "{text}");
        }
        assert_eq!(q("1Gi").add(&q("512Mi")).to_string(), "1536Mi");
        assert_eq!(q("0").add(&q("1Gi")).to_string(), "1Gi", "zero takes the other's format");
        assert_eq!(q("500m").sub(&q("200m")).to_string(), "300m");
        assert_eq!(q("1").sub(&q("1")).to_string(), "0");
        assert_eq!(Quantity::new(2, Format::DecimalSI).to_string(), "2");
        assert_eq!(Quantity::new_milli(1500, Format::DecimalSI).to_string(), "1500m");
    }

    #[test]
    fn knows_whole_numbers() {
        assert!(q("2").is_integer());
        assert!(q("2000m").is_integer());
        assert!(q("1k").is_integer());
        assert!(!q("1.5").is_integer());
        assert!(!q("500m").is_integer());
    }

    #[test]
    fn huge_values_saturate_instead_of_panicking() {
        let huge = q("99999999999999999999999999999999999999999999999Ei");
        assert_eq!(huge.compare(&q("1")), Ordering::Greater);
        assert_eq!(q("1e1000").compare(&q("1e-1000")), Ordering::Greater);
        let _ = huge.add(&huge);
        assert!(q("1e-1000").is_positive());
    }
}
