//! Column widths sized to their content: each column asks for its widest cell; when the row does
//! not fit, the columns that may shrink give way in their order (names before causes) down to
//! their least, and a cell cut short ends in `…`. The pod list's widest cells are measured when
//! its rows change, never while a frame is drawn.

use crate::report::{Finding, Status};
use unicode_width::UnicodeWidthStr;

pub struct Column {
    pub header: &'static str,
    /// Its widest cell.
    pub content: usize,
    /// The least width it keeps when it gives way (its full width when it never does).
    pub least: usize,
    /// Who gives way first: lower first; `None` never.
    pub gives_way: Option<u8>,
}

/// The width of each column in `width` terminal columns, with one column of space between.
pub fn widths(columns: &[Column], width: usize) -> Vec<usize> {
    let mut wanted: Vec<usize> = columns
        .iter()
        .map(|c| c.header.width().max(c.content))
        .collect();
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

/// What the BROKEN LINK column says of a finding: the link (with `cause`, its cause too).
pub fn broken_label(f: &Finding, cause: bool) -> String {
    match (f.broken_link, f.cause) {
        (Some(l), Some(c)) if cause => format!("{l}: {c}"),
        (Some(l), _) => l.to_string(),
        _ => match f.verdict {
            // The first link that could not be decided: where to look, not just "unknown".
            Status::Unknown => f
                .links
                .iter()
                .find(|l| l.status == Status::Unknown)
                // Every link checks out, yet the pull fails: the cause is beyond what is read.
                .map_or_else(
                    || "every link ok".to_string(),
                    |l| format!("{} not known", l.id),
                ),
            Status::Warning => f
                .links
                .iter()
                .find(|l| l.status == Status::Warning)
                .map(|l| l.id.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        },
    }
}

/// The widest cell of each pod-list field over the rows shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodWidths {
    pub verdict: usize,
    pub namespace: usize,
    pub pod: usize,
    pub workload: usize,
    pub container: usize,
    pub state: usize,
    pub age: usize,
    pub link: usize,
    pub link_and_cause: usize,
}

impl PodWidths {
    /// Widens to hold one more row.
    pub fn measure(&mut self, f: &Finding, verdict: &str, age: &str) {
        let widest = |w: &mut usize, text: &str| *w = (*w).max(text.width());
        widest(&mut self.verdict, verdict);
        widest(&mut self.namespace, &f.namespace);
        widest(
            &mut self.pod,
            f.pod
                .as_deref()
                .or(f.workload.as_deref())
                .unwrap_or_default(),
        );
        widest(
            &mut self.workload,
            f.workload.as_deref().unwrap_or_default(),
        );
        widest(&mut self.container, &f.container);
        widest(&mut self.state, &f.state);
        widest(&mut self.age, age);
        widest(&mut self.link, &broken_label(f, false));
        widest(&mut self.link_and_cause, &broken_label(f, true));
    }
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

    fn column(header: &'static str, content: usize, least: usize, gives_way: Option<u8>) -> Column {
        Column {
            header,
            content,
            least,
            gives_way,
        }
    }

    #[test]
    fn names_give_way_before_causes() {
        // "checkout-6c9e7a-m3n", "platform", "repository-policy: cross-account"
        let columns = [
            column("POD", 19, 8, Some(0)),
            column("NS", 8, 4, Some(1)),
            column("CAUSE", 32, 10, Some(2)),
        ];
        // Room for everything: each column as wide as its widest cell.
        assert_eq!(widths(&columns, 100), vec![19, 8, 32]);
        // 10 columns short: the pod name gives them up, the cause keeps its width.
        assert_eq!(widths(&columns, 51), vec![9, 8, 32]);
        // Then the namespace, down to their least; only then the cause.
        assert_eq!(widths(&columns, 40), vec![8, 4, 26]);
    }

    #[test]
    fn cells_cut_short_end_in_an_ellipsis() {
        assert_eq!(fit("checkout-6c9e7a-m3n", 10), "checkout-…");
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("x", 0), "");
    }
}
