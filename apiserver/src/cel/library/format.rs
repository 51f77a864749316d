//! The strings extension's `format()` (`'%s has %d items'.format([name, count])`), as
//! cel-go's strings extension version 2 formats: `%s`, `%d`, `%f` and `%e` with an optional
//! precision, `%x`, `%X`, `%o`, `%b`, and `%%`.

use super::{Outcome, format_double};
use crate::cel::cost::Cost;
use crate::cel::error::EvalError;
use crate::cel::time;
use crate::cel::value::Value;

/// The most characters a result may hold: the cost limit bounds the work, this the memory.
const MAX_OUTPUT: usize = 1 << 20;

/// Appends `piece` to `out`, charging for it first and refusing a result past [`MAX_OUTPUT`]:
/// a `%s` of a list of shared strings can describe far more text than it took to build.
fn push(out: &mut String, piece: &str, cost: &mut Cost) -> Result<(), EvalError> {
    cost.output(Some(piece.len()))?;
    if out.len().saturating_add(piece.len()) > MAX_OUTPUT {
        return Err(error("result too long"));
    }
    out.push_str(piece);
    Ok(())
}

fn error(message: impl std::fmt::Display) -> EvalError {
    EvalError::message(format!("error during formatting: {message}"))
}

pub(super) fn format(template: &str, args: &[Value], cost: &mut Cost) -> Outcome {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next_arg = args.iter();
    while let Some(character) = chars.next() {
        if out.len() > MAX_OUTPUT {
            return Err(error("result too long"));
        }
        if character != '%' {
            out.push(character);
            continue;
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(digit) = chars.peek().filter(|digit| digit.is_ascii_digit()) {
                digits.push(*digit);
                chars.next();
            }
            precision = Some(digits.parse().map_err(|_| error("invalid precision"))?);
        }
        let Some(verb) = chars.next() else { return Err(error("unexpected end of format string")) };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next_arg.next() else { return Err(error(format!("index {} out of range", args.len()))) };
        let piece = match verb {
            's' => {
                shown(arg, &mut out, cost)?;
                continue;
            }
            'd' => match arg {
                Value::Int(number) => number.to_string(),
                Value::Uint(number) => number.to_string(),
                other => return Err(error(format!("decimal clause can only be used on integers, was given {}", other.type_name()))),
            },
            'f' => fixed(arg, precision.unwrap_or(6))?,
            'e' => scientific(arg, precision.unwrap_or(6))?,
            'x' | 'X' => {
                // Two characters for each byte of a string or bytes, built whole: charge first.
                if let Value::String(text) = arg {
                    cost.output(text.len().checked_mul(2))?;
                }
                if let Value::Bytes(bytes) = arg {
                    cost.output(bytes.len().checked_mul(2))?;
                }
                let hex = hexadecimal(arg)?;
                if verb == 'X' { hex.to_uppercase() } else { hex }
            }
            'o' => radix(arg, 8)?,
            'b' => radix(arg, 2)?,
            other => return Err(error(format!("unrecognized formatting clause \"{other}\""))),
        };
        push(&mut out, &piece, cost)?;
    }
    Ok(Value::string(out))
}

fn number(arg: &Value) -> Result<f64, EvalError> {
    match arg {
        Value::Double(number) => Ok(*number),
        Value::Int(number) => Ok(*number as f64),
        Value::Uint(number) => Ok(*number as f64),
        other => Err(error(format!("fixed-point clause can only be used on doubles, was given {}", other.type_name()))),
    }
}

fn fixed(arg: &Value, precision: usize) -> Result<String, EvalError> {
    let value = number(arg)?;
    if !value.is_finite() {
        return Ok(format_double(value));
    }
    Ok(format!("{value:.precision$}", precision = precision.min(64)))
}

/// cel-go writes the exponent as `×10` and superscript digits (`3.140000×10⁰⁰`).
fn scientific(arg: &Value, precision: usize) -> Result<String, EvalError> {
    let value = number(arg)?;
    if !value.is_finite() {
        return Ok(format_double(value));
    }
    let text = format!("{value:.precision$e}", precision = precision.min(64));
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or_default();
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits: String = format!("{:02}", exponent.abs()).chars().map(|digit| SUPERSCRIPTS[digit.to_digit(10).unwrap_or(0) as usize]).collect();
    let sign = if exponent < 0 { "⁻" } else { "" };
    Ok(format!("{mantissa}×10{sign}{digits}"))
}

fn hexadecimal(arg: &Value) -> Result<String, EvalError> {
    Ok(match arg {
        Value::Int(number) if *number < 0 => format!("-{:x}", number.unsigned_abs()),
        Value::Int(number) => format!("{number:x}"),
        Value::Uint(number) => format!("{number:x}"),
        Value::String(text) => text.bytes().map(|byte| format!("{byte:02x}")).collect(),
        Value::Bytes(bytes) => bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
        other => return Err(error(format!("only integers, byte buffers, and strings can be formatted as hex, was given {}", other.type_name()))),
    })
}

fn radix(arg: &Value, base: u32) -> Result<String, EvalError> {
    let (negative, magnitude) = match arg {
        Value::Int(number) => (*number < 0, number.unsigned_abs()),
        Value::Uint(number) => (false, *number),
        other => return Err(error(format!("only integers can be formatted in base {base}, was given {}", other.type_name()))),
    };
    let digits = if base == 8 { format!("{magnitude:o}") } else { format!("{magnitude:b}") };
    Ok(if negative { format!("-{digits}") } else { digits })
}

/// `%s`: a value as text, lists and maps with their items so, appended to `out` piece by
/// piece, each charged and bounded as [`push`] does, so that no large text is built whole.
fn shown(arg: &Value, out: &mut String, cost: &mut Cost) -> Result<(), EvalError> {
    let piece = match arg {
        Value::String(text) => return push(out, text, cost),
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Uint(number) => number.to_string(),
        Value::Double(number) => format_double(*number),
        Value::Bytes(bytes) => {
            cost.output(Some(bytes.len()))?;
            String::from_utf8_lossy(bytes).into_owned()
        }
        Value::Duration(nanos) => time::format_duration(*nanos),
        Value::Timestamp(at) => time::format_timestamp(*at),
        Value::Type(name) => name.to_string(),
        Value::List(list) => {
            push(out, "[", cost)?;
            for (at, item) in list.items.iter().enumerate() {
                if at > 0 {
                    push(out, ", ", cost)?;
                }
                shown(item, out, cost)?;
            }
            return push(out, "]", cost);
        }
        Value::Map(map) => {
            push(out, "{", cost)?;
            for (at, (key, value)) in map.iter().enumerate() {
                if at > 0 {
                    push(out, ", ", cost)?;
                }
                shown(&key.to_value(), out, cost)?;
                push(out, ": ", cost)?;
                shown(value, out, cost)?;
            }
            return push(out, "}", cost);
        }
        other => return Err(error(format!("string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, durations, and timestamps, was given {}", other.type_name()))),
    };
    push(out, &piece, cost)
}
