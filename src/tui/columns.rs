//! Column widths sized to their content: each column asks for its widest cell; when the row does
//! not fit, the columns that may shrink give way in their order (names before causes) down to
//! their least, and a cell cut short ends in `…`.

use unicode_width::UnicodeWidthStr;

pub struct Column {
    pub header: &'static str,
    /// The least width it keeps when it gives way (its full width when it never does).
    pub least: usize,
    /// Who gives way first: lower first; `None` never.
    pub gives_way: Option<u8>,
}

/// The width of each column for rows of `cells` (one `Vec` per row, one cell per column) in
/// `width` terminal columns, with one column of space between columns.
pub fn widths(columns: &[Column], cells: &[Vec<&str>], width: usize) -> Vec<usize> {
    let mut wanted: Vec<usize> = columns.iter().map(|c| c.header.width()).collect();
    for row in cells {
        for (w, cell) in wanted.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let spacing = columns.len().saturating_sub(1);
    let mut over = (wanted.iter().sum::<usize>() + spacing).saturating_sub(width);
    let mut order: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].gives_way.is_some())
        .collect();
    order.sort_by_key(|&i| columns[i].gives_way);
    for i in order {
        if over == 0 {
            break;
        }
        let least = columns[i].least.min(wanted[i]);
        let give = (wanted[i] - least).min(over);
        wanted[i] -= give;
        over -= give;
    }
    wanted
}

/// `text` in at most `width` columns: cut short with `…` when it does not fit.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(header: &'static str, least: usize, gives_way: Option<u8>) -> Column {
        Column {
            header,
            least,
            gives_way,
        }
    }

    #[test]
    fn names_give_way_before_causes() {
        let columns = [
            column("POD", 8, Some(0)),
            column("NS", 4, Some(1)),
            column("CAUSE", 10, Some(2)),
        ];
        let rows = vec![vec![
            "checkout-6c9e7a-m3n",
            "platform",
            "repository-policy: cross-account",
        ]];
        // Room for everything: each column as wide as its widest cell.
        assert_eq!(widths(&columns, &rows, 100), vec![19, 8, 32]);
        // 10 columns short: the pod name gives them up, the cause keeps its width.
        assert_eq!(widths(&columns, &rows, 51), vec![9, 8, 32]);
        // Then the namespace, down to their least; only then the cause.
        assert_eq!(widths(&columns, &rows, 40), vec![8, 4, 26]);
    }

    #[test]
    fn cells_cut_short_end_in_an_ellipsis() {
        assert_eq!(fit("checkout-6c9e7a-m3n", 10), "checkout-…");
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("x", 0), "");
    }
}
