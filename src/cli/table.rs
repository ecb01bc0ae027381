//! Aligned plain-text tables for human output. Every cell is shown with its control characters
//! and bidi overrides escaped ([`crate::text::visible`]): a stored text must not drive the
//! terminal or reorder a line.

/// Renders rows under a header with columns padded to their widest cell (in characters).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| crate::text::visible(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// One line of free text for a table cell: whitespace collapsed, controls escaped, cut at `max`
/// characters.
pub fn cell(s: &str, max: usize) -> String {
    crate::gate::clip(&crate::text::one_line(s), max)
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_on_the_widest_cell() {
        let out = super::render(
            &["ID", "GATE", "REASON"],
            &[
                vec!["1".into(), "security".into(), "docs".into()],
                vec!["12".into(), "qa".into(), "n/a".into()],
            ],
        );
        assert_eq!(
            out,
            "ID  GATE      REASON\n1   security  docs\n12  qa        n/a\n"
        );
    }
}
