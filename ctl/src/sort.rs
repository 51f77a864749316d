//! `get --sort-by` as kubectl sorts: its comparison of unstructured values, and Go's
//! `sort.Sort`, whose order for equal keys users see.

use serde_json::Value;

use crate::CtlError;

/// Go's `sort.Sort` uses insertion sort up to this many items, which keeps equal keys in order
/// except where kubectl's comparison is not a strict order (two missing values).
const INSERTION: usize = 12;

/// Sorts with `less` as Go's `sort.Sort` does for short inputs; longer ones with a stable sort of
/// the same order.
pub fn go_sort<T>(items: &mut [T], less: impl Fn(&T, &T) -> Result<bool, CtlError>) -> Result<(), CtlError> {
    if items.len() <= INSERTION {
        for index in 1..items.len() {
            let mut at = index;
            while at > 0 && less(&items[at], &items[at - 1])? {
                items.swap(at, at - 1);
                at -= 1;
            }
        }
        return Ok(());
    }
    // Find an unsortable pair before sorting, so that the comparator below cannot fail.
    for pair in items.windows(2) {
        less(&pair[0], &pair[1])?;
    }
    items.sort_by(|left, right| match (less(left, right), less(right, left)) {
        (Ok(true), Ok(false)) => std::cmp::Ordering::Less,
        (Ok(false), Ok(true)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    });
    Ok(())
}

/// kubectl's `isLess` over two sort keys (none when the path found nothing): a missing key is
/// less than anything, null less than a value, numbers of one kind and strings compare.
pub fn less(left: &Option<Value>, right: &Option<Value>) -> Result<bool, CtlError> {
    let (Some(left), Some(right)) = (left, right) else {
        return Ok(left.is_none());
    };
    Ok(match (left, right) {
        (Value::Null, Value::Null) => false,
        (Value::Null, _) => true,
        (_, Value::Null) => false,
        // kubectl 1.33 orders "a10" before "a9": byte order, whatever its source says of natural order.
        (Value::String(left), Value::String(right)) => left < right,
        (Value::Number(left), Value::Number(right)) => match (left.as_i64(), right.as_i64(), left.is_f64(), right.is_f64()) {
            (Some(left), Some(right), false, false) => left < right,
            (_, _, true, true) => left.as_f64() < right.as_f64(),
            _ => return Err(unsortable(left.to_string())),
        },
        (other, _) => return Err(unsortable(other.to_string())),
    })
}

fn unsortable(value: String) -> CtlError {
    CtlError::Usage(format!("the value {value} is of an unsortable type"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_keys_come_first_in_go_order() {
        // kubectl over [db-1 (none), web-10 (front), web-9 (none)] by a label: web-9, db-1, web-10.
        let mut items = vec![("db-1", None), ("web-10", Some(json!("front"))), ("web-9", None)];
        go_sort(&mut items, |left, right| less(&left.1, &right.1)).unwrap();
        assert_eq!(items.iter().map(|item| item.0).collect::<Vec<_>>(), ["web-9", "db-1", "web-10"]);
        assert!(less(&Some(json!(1)), &Some(json!("a"))).is_err());
        assert!(less(&Some(json!(2)), &Some(json!(10))).unwrap());
        assert!(less(&Some(json!("a10")), &Some(json!("a9"))).unwrap());
    }
}
