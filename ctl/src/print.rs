//! Text as kubectl prints it: left-aligned columns for tables (`get`, `top`, `api-resources`,
//! `config get-contexts`) and for `describe`'s sections.

/// Left-aligned columns three spaces apart and at least six wide (kubectl's tabwriter: minimum
/// width 6, padding 3), the last one unpadded: a row whose last cells are empty ends in the
/// padding of the cells before them, as kubectl's do.
pub fn columns(rows: &[Vec<String>]) -> String {
    aligned_at_least(rows, "", "   ", TABLE_MIN_WIDTH, false)
}

/// kubectl's tabwriter's smallest column, padding included.
const TABLE_MIN_WIDTH: usize = 6;

/// Left-aligned columns `gap` apart, each line after `indent`, the last column unpadded:
/// kubectl's tables use three spaces, `describe`'s sections an indent and two.
pub fn aligned(rows: &[Vec<String>], indent: &str, gap: &str) -> String {
    aligned_at_least(rows, indent, gap, 0, true)
}

/// [`aligned`], with every padded column (gap included) at least `min_width` wide, and trailing
/// blanks kept or trimmed.
fn aligned_at_least(rows: &[Vec<String>], indent: &str, gap: &str, min_width: usize, trim: bool) -> String {
    let least = min_width.saturating_sub(gap.chars().count());
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..count).map(|column| rows.iter().filter_map(|row| row.get(column)).map(|cell| cell.chars().count()).max().unwrap_or(0).max(least)).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}{gap}", width = widths[column]));
            }
        }
        out.push_str(if trim { line.trim_end() } else { &line });
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_as_kubectl_aligns_them() {
        let rows = vec![
            vec!["NAME".to_string(), "DATA".to_string(), "AGE".to_string()],
            vec!["example-config".to_string(), "2".to_string(), "5s".to_string()],
        ];
        assert_eq!(columns(&rows), "NAME             DATA   AGE\nexample-config   2      5s\n");
        let narrow = vec![vec!["0/1".to_string(), "0".to_string(), "0s".to_string()]];
        assert_eq!(columns(&narrow), "0/1   0     0s\n");
        let empty_last = vec![vec!["NAME".to_string(), "APP".to_string(), "X".to_string()], vec!["db-1".to_string(), String::new(), String::new()]];
        assert_eq!(columns(&empty_last), "NAME   APP   X\ndb-1         \n");
    }
}
