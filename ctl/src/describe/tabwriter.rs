//! Go's `text/tabwriter` as kubectl's describers configure it (minimum width 0, padding 2, padded
//! with spaces): tab-terminated cells of consecutive lines form a column as wide as its widest
//! cell plus the padding; the text after a line's last tab is not part of any column.

/// Aligns `text`. A form feed ends every column, as kubectl's `Flush` before the events does.
pub fn align(text: &str) -> String {
    let mut out = String::new();
    for section in text.split('\x0c') {
        let mut lines: Vec<Vec<&str>> = section.split('\n').map(|line| line.split('\t').collect()).collect();
        // The text after the last newline is a line of its own only when it is not empty.
        let ends_in_newline = lines.last().is_some_and(|last| last.len() == 1 && last[0].is_empty());
        if ends_in_newline {
            lines.pop();
        }
        let mut widths = Vec::new();
        format(&lines, &mut widths, 0, lines.len(), &mut out);
        if !ends_in_newline && out.ends_with('\n') {
            out.pop();
        }
    }
    out
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

/// Go's `Writer.format`: the lines `line0..line1`, with the widths of the columns left of
/// `widths.len()` known.
fn format(lines: &[Vec<&str>], widths: &mut Vec<usize>, mut line0: usize, line1: usize, out: &mut String) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, widths, line0, this, out);
        line0 = this;
        let mut cell_width = 0;
        while this < line1 && column + 1 < lines[this].len() {
            cell_width = cell_width.max(width(lines[this][column]) + PADDING);
            this += 1;
        }
        widths.push(cell_width);
        format(lines, widths, line0, this, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, widths, line0, line1, out);
}

const PADDING: usize = 2;

fn write_lines(lines: &[Vec<&str>], widths: &[usize], line0: usize, line1: usize, out: &mut String) {
    for line in &lines[line0..line1] {
        for (index, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(&cell_width) = widths.get(index) {
                out.extend(std::iter::repeat_n(' ', cell_width.saturating_sub(width(cell))));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_go_aligns_them() {
        let text = "Name:\tweb\nNamespace:\tdefault\nLabels:\ta=b\n\tc=d\nContainers:\n  web:\n    Image:\tnginx\n    Restart Count:\t0\n";
        let expected = "Name:       web\nNamespace:  default\nLabels:     a=b\n            c=d\nContainers:\n  web:\n    Image:          nginx\n    Restart Count:  0\n";
        assert_eq!(align(text), expected);
        assert_eq!(align("A:\tb\n\x0cEvents:\n  Type\tReason\n  ----\t------\n"), "A:  b\nEvents:\n  Type  Reason\n  ----  ------\n");
    }
}
