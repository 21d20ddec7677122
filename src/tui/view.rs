//! Drawing. Reads the application state, never changes it (except the page size it measures), and
//! never does IO: a frame costs only the rows that are visible.

use super::app::{App, InputKind, Screen};
use super::browse;
use super::keymap;
use super::theme::{Theme, marker};
use super::wizard::LineKind;
use crate::report::{Finding, Lane, Status};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Clear, Padding, Paragraph, Row, Table, Wrap};

pub fn draw(frame: &mut Frame, app: &mut App, theme: Theme) {
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, theme);
    app.set_page(body.height.saturating_sub(3).max(1) as usize);
    match app.screen().clone() {
        Screen::Wizard => draw_wizard(frame, body, app, theme),
        Screen::Pods => draw_pods(frame, body, app, theme),
        Screen::Chain { finding } => {
            draw_chain(frame, body, app, &app.report().findings[finding], theme)
        }
        Screen::Fix { finding } => {
            draw_fix(frame, body, app, &app.report().findings[finding], theme)
        }
        Screen::Browse(kind) => draw_browse(frame, body, app, kind, theme),
        Screen::Related {
            title,
            lines,
            findings,
        } => draw_related(frame, body, app, &title, &lines, &findings, theme),
        Screen::ReadFailed => draw_read_failed(frame, body, app, theme),
    }
    draw_status(frame, status, app, theme);
    draw_footer(frame, footer, app, theme);
    if app.help_open() {
        draw_help(frame, app, theme);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let findings = &app.report().findings;
    let source = &app.report().source;
    // The region only where there is room: the filter must stay visible at 80 columns.
    let region = match (&source.region, area.width >= 100) {
        (Some(r), true) => format!(" {r}"),
        _ => String::new(),
    };
    // Before the first read there is no cluster yet: the context says what is being read.
    let cluster = source
        .cluster
        .as_deref()
        .or(app.context().current.as_deref())
        .unwrap_or("?");
    let kind = match source.kind.as_str() {
        "" => String::new(),
        kind => format!(" ({kind})"),
    };
    let mut spans = vec![
        Span::styled(" pulldoctor ", theme.title()),
        Span::raw(format!(" {cluster}{region}{kind}  ")),
    ];
    if app.nothing_read() {
        spans.push(Span::styled(
            "nothing read yet",
            theme.status(Status::Unknown),
        ));
    } else {
        spans.extend(counts(findings, theme));
    }
    spans.push(Span::raw(format!(
        "  ns:{}",
        app.namespace().unwrap_or("all")
    )));
    if !app.filter().is_empty() {
        spans.push(Span::raw(format!("  /{}", app.filter())));
    }
    if let Some(loading) = app.loading() {
        spans.push(Span::styled(
            format!("  ⟳ {loading}"),
            theme.status(Status::Unknown),
        ));
    }
    frame.render_widget(Line::from(spans), area);
}

/// broken, unknown and ok, each in its colour.
fn counts(findings: &[Finding], theme: Theme) -> Vec<Span<'static>> {
    let count = |s: Status| findings.iter().filter(|f| f.verdict == s).count();
    vec![
        Span::styled(
            format!("{} broken", count(Status::Broken)),
            theme.status(Status::Broken),
        ),
        Span::raw("  "),
        Span::styled(
            format!("{} unknown", count(Status::Unknown)),
            theme.status(Status::Unknown),
        ),
        Span::raw("  "),
        Span::styled(
            format!("{} ok", count(Status::Ok) + count(Status::Warning)),
            theme.status(Status::Ok),
        ),
    ]
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some((kind, text)) = app.input() else {
        let line = match app.message() {
            Some(message) => Line::from(Span::styled(format!(" {message}"), theme.dim())),
            None => Line::default(),
        };
        frame.render_widget(line, area);
        return;
    };
    let prompt = match kind {
        InputKind::Filter => "/".to_string(),
        InputKind::Command => ":".to_string(),
        InputKind::Wizard => format!(
            " {}: ",
            super::wizard::FIELDS
                .get(app.wizard().step)
                .copied()
                .unwrap_or("")
        ),
        InputKind::Confirm | InputKind::ConfirmAgain | InputKind::ExportDir => {
            format!(" {} ", app.message().unwrap_or("apply?"))
        }
    };
    // The prompt leaves the text typed a few columns at least; that text scrolls sideways so
    // that its end (where the cursor is) stays in view.
    let width = area.width as usize;
    let least = match kind {
        InputKind::Confirm | InputKind::ConfirmAgain => 5,
        _ => 12,
    };
    let prompt = tail(&prompt, width.saturating_sub(least), false);
    let room = width.saturating_sub(prompt.chars().count() + 1);
    let line = Line::from(vec![
        Span::styled(prompt, theme.key()),
        Span::raw(tail(text, room, true)),
        Span::raw("▏"),
    ]);
    frame.render_widget(line, area);
}

/// `text` in at most `room` columns: its end (`keep_end`) or its start, with `…` for the rest.
fn tail(text: &str, room: usize, keep_end: bool) -> String {
    let count = text.chars().count();
    if count <= room {
        return text.to_string();
    }
    let kept = room.saturating_sub(1);
    if keep_end {
        format!("…{}", text.chars().skip(count - kept).collect::<String>())
    } else {
        format!("{}…", text.chars().take(kept).collect::<String>())
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let bindings = keymap::footer(app.screen());
    let whole = |b: &keymap::Binding| b.footer.unwrap_or_default().to_string();
    // Where the words do not all fit, each says its first word: every key stays in view
    // (help and quit last among them).
    let first_word = |b: &keymap::Binding| whole(b).split(' ').next().unwrap_or("").to_string();
    let width = |say: &dyn Fn(&keymap::Binding) -> String| {
        bindings
            .iter()
            .map(|b| b.label.chars().count() + say(b).chars().count() + 3)
            .sum::<usize>()
    };
    let say: &dyn Fn(&keymap::Binding) -> String = if width(&whole) <= area.width as usize {
        &whole
    } else {
        &first_word
    };
    let mut spans = Vec::new();
    for b in bindings {
        spans.push(Span::styled(format!(" {}", b.label), theme.key()));
        spans.push(Span::raw(format!(" {} ", say(b))));
    }
    frame.render_widget(Line::from(spans), area);
}

/// The first row to draw so that `selected` is visible in `height` rows.
fn window(selected: usize, height: usize) -> usize {
    if height == 0 || selected < height {
        0
    } else {
        selected + 1 - height
    }
}

fn verdict_cell(status: Status, theme: Theme) -> Cell<'static> {
    Cell::from(Span::styled(marker(status), theme.status(status)))
}

fn draw_pods(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    use super::columns::{Column, broken_label, fit, widths};
    let visible = app.visible_findings();
    // At 80 columns the broken link is what matters; wider terminals add its cause, then the
    // container, then the workload. Columns are as wide as their content (measured when the
    // rows change); names give way before the cause.
    let with_cause = area.width >= 100;
    let container = area.width >= 130;
    let workload = area.width >= 160;
    let content = app.pod_widths();
    // While a read is under way, the pods whose facts it is reading carry a mark.
    let reading = app.loading().is_some();
    let column = |header, content, least, gives_way| Column {
        header,
        content,
        least,
        gives_way,
    };
    let mut columns = vec![
        column("VERDICT", content.verdict, 9, None),
        column("NAMESPACE", content.namespace, 6, Some(3)),
        column("POD", content.pod, 12, Some(2)),
    ];
    if workload {
        columns.push(column("WORKLOAD", content.workload, 10, Some(0)));
    }
    if container {
        columns.push(column("CONTAINER", content.container, 6, Some(1)));
    }
    let broken = match with_cause {
        true => ("BROKEN LINK: CAUSE", content.link_and_cause),
        false => ("BROKEN LINK", content.link),
    };
    columns.extend([
        column("STATE", content.state, 16, None),
        column("AGE", content.age, 3, None),
        column(
            broken.0,
            broken.1 + if reading { 2 } else { 0 },
            11,
            Some(4),
        ),
    ]);
    let sizes = widths(&columns, area.width as usize);
    let height = area.height.saturating_sub(3) as usize;
    let start = window(app.selected(), height);
    let rows: Vec<Row> = visible
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(row, &i)| {
            let f = &app.report().findings[i];
            let mut texts = vec![
                f.namespace.clone(),
                f.pod
                    .clone()
                    .unwrap_or_else(|| f.workload.clone().unwrap_or_default()),
            ];
            if workload {
                texts.push(f.workload.clone().unwrap_or_default());
            }
            if container {
                texts.push(f.container.clone());
            }
            texts.extend([f.state.clone(), app.age(i).to_string()]);
            let label = broken_label(f, with_cause);
            let label = match reading && f.verdict != Status::Ok {
                true => format!("⟳ {label}"),
                false => label,
            };
            let mut cells = vec![verdict_cell(f.verdict, theme)];
            cells.extend(
                texts
                    .iter()
                    .zip(&sizes[1..])
                    .map(|(text, &width)| Cell::from(fit(text, width))),
            );
            cells.push(Cell::from(Span::styled(
                fit(&label, sizes[sizes.len() - 1]),
                theme.status(f.verdict),
            )));
            let style = if row == app.selected() {
                theme.selected()
            } else {
                Style::new()
            };
            Row::new(cells).style(style)
        })
        .collect();
    let last = sizes.len() - 1;
    let constraints: Vec<Constraint> = sizes
        .iter()
        .enumerate()
        .map(|(c, &w)| match c == last {
            true => Constraint::Fill(1),
            false => Constraint::Length(w as u16),
        })
        .collect();
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    let title = format!(" pods ({}) — failing first ", visible.len());
    let table = Table::new(rows, constraints)
        .header(Row::new(headers).style(theme.title()))
        .column_spacing(1)
        .block(
            Block::new()
                .borders(Borders::TOP)
                .title(Span::styled(title, theme.title())),
        );
    frame.render_widget(table, area);
    if visible.is_empty() {
        let hint = if let Some(loading) = app.loading() {
            format!("  {loading} (q quits)")
        } else if app.filter().is_empty() {
            "  no pods in this input".to_string()
        } else {
            "  no pod matches the filter (esc clears it)".to_string()
        };
        frame.render_widget(
            Line::from(Span::styled(hint, theme.dim())),
            Rect {
                y: area.y + 2,
                height: 1,
                ..area
            },
        );
    }
}

/// Why nothing could be read, whole and wrapped, with what to do: never an empty list.
fn draw_read_failed(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let why = app.read_failed().unwrap_or_default();
    let mut lines = vec![
        Line::from(Span::styled(
            crate::text::escape_block(why).into_owned(),
            theme.status(Status::Broken),
        )),
        Line::raw(""),
        Line::from(Span::styled(
            "Nothing was diagnosed: this is not an all-clear.",
            theme.title(),
        )),
        Line::raw(""),
        Line::from(Span::styled("What to do", theme.title())),
    ];
    let steps = [
        "• another context: pulldoctor --context NAME, or :ctx here to list them",
        "• an EKS cluster not yet in the kubeconfig: aws eks update-kubeconfig --name CLUSTER --region REGION",
        "• AWS credentials: aws sso login, aws configure, or pulldoctor --profile NAME",
        "• r reads again; q leaves (exit code 2, this reason printed)",
        "",
        "No cluster at hand? pulldoctor demo shows a sample cluster; pulldoctor --from DIR reads a bundle the collect script wrote.",
    ];
    lines.extend(steps.into_iter().map(Line::raw));
    let text = Paragraph::new(lines).wrap(Wrap { trim: false }).block(
        Block::new()
            .borders(Borders::TOP)
            .padding(Padding::horizontal(1))
            .title(Span::styled(
                " pulldoctor could not read the cluster ",
                theme.status(Status::Broken),
            )),
    );
    frame.render_widget(text, area);
}

fn pull_lane_title(f: &Finding) -> String {
    let who = f
        .pull_identity
        .arn
        .as_deref()
        .map(crate::iam::arn::role_name_of)
        .unwrap_or_else(|| {
            if f.pull_identity.candidates.is_empty() {
                "?".into()
            } else {
                "one of several roles".into()
            }
        });
    format!("PULL LANE — the kubelet pulls as {who}")
}

/// The chain's top: whose it is, the verdict with its summary, and who else it stops.
fn chain_top(f: &Finding, theme: Theme) -> Text<'static> {
    let headline = match (f.broken_link, f.cause) {
        (Some(l), Some(c)) => format!("{} {l}: {c}", marker(f.verdict)),
        _ => marker(f.verdict).to_string(),
    };
    let radius = f.blast_radius.as_ref().and_then(|r| r.line()).map(|line| {
        Line::from(vec![
            Span::styled("radius ", theme.title()),
            Span::raw(line),
        ])
    });
    Text::from(
        [
            Line::from(vec![
                Span::styled(format!("{} ", f.subject()), theme.title()),
                Span::raw(format!("· {} · {}", f.container, f.state)),
            ]),
            Line::from(vec![
                Span::styled(headline, theme.status(f.verdict)),
                Span::raw(format!("  {}", f.summary)),
            ]),
        ]
        .into_iter()
        .chain(radius)
        .collect::<Vec<_>>(),
    )
}

fn draw_chain(frame: &mut Frame, area: Rect, app: &App, f: &Finding, theme: Theme) {
    let top_text = chain_top(f, theme);
    let top_paragraph = Paragraph::new(top_text)
        .wrap(Wrap { trim: false })
        .block(Block::new().padding(Padding::left(1)));
    // The headline and summary get the lines they wrap to, up to five, and a blank line after
    // them when that fits.
    let wrapped = top_paragraph.line_count(area.width) as u16;
    let top_height = if wrapped >= 5 { 5 } else { wrapped + 1 };
    let [top, rest] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Fill(1)]).areas(area);
    frame.render_widget(top_paragraph, top);
    // Below 100 columns the chain shows each status by its mark alone, so the evidence keeps
    // the width; the pane is as wide as its widest line either way.
    let compact = area.width < 100;
    let status_cell = |status: Status| match compact {
        true => marker(status).chars().next().unwrap_or(' ').to_string(),
        false => format!("{:<10}", marker(status)),
    };
    let widest = f
        .links
        .iter()
        .map(|l| 4 + status_cell(l.status).chars().count() + l.id.to_string().len())
        .chain([" IDENTITY LANE (app)".len()])
        .max()
        .unwrap_or(20) as u16;
    let chain_width = (widest + 1).min(rest.width / 2);
    let [left, right] =
        Layout::horizontal([Constraint::Length(chain_width), Constraint::Fill(1)]).areas(rest);
    let mut lines = Vec::new();
    let mut lane = None;
    let mut selected_line = 0;
    for (i, link) in f.links.iter().enumerate() {
        let this = link.lane;
        if lane != Some(this) {
            lane = Some(this);
            let title = match this {
                Lane::Identity => " IDENTITY LANE (app)",
                Lane::Pull => " PULL LANE (kubelet)",
                Lane::Both => " POD",
            };
            lines.push(Line::from(Span::styled(title, theme.title())));
        }
        let is_last_of_lane = f.links.get(i + 1).is_none_or(|n| n.lane != this);
        let pointer = if Some(link.id) == f.broken_link {
            "▶"
        } else {
            " "
        };
        let branch = if is_last_of_lane { "└" } else { "├" };
        let mut style = theme.status(link.status);
        if i == app.selected() {
            style = style.add_modifier(Modifier::REVERSED);
            selected_line = lines.len();
        }
        lines.push(Line::from(vec![
            Span::raw(format!("{pointer}{branch} ")),
            Span::styled(status_cell(link.status), style),
            Span::styled(
                format!(" {}", link.id),
                if i == app.selected() {
                    style
                } else {
                    Style::new()
                },
            ),
        ]));
    }
    let height = left.height.saturating_sub(1) as usize;
    let scroll = window(selected_line, height) as u16;
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll, 0)).block(
            Block::new()
                .borders(Borders::TOP | Borders::RIGHT)
                .title(" chain "),
        ),
        left,
    );
    let link = &f.links[app.selected().min(f.links.len() - 1)];
    let mut detail = vec![
        Line::from(vec![
            Span::styled(format!("{} ", link.id), theme.title()),
            Span::styled(marker(link.status), theme.status(link.status)),
            Span::styled(format!("  basis: {}", link.basis.as_str()), theme.dim()),
        ]),
        Line::from(link.summary.clone()),
    ];
    if let Some(cause) = link.cause {
        detail.push(Line::from(vec![
            Span::styled("cause: ", theme.dim()),
            Span::styled(cause.to_string(), theme.status(link.status)),
        ]));
    }
    if !link.path.is_empty() {
        detail.push(Line::default());
        detail.push(Line::from(Span::styled("path", theme.dim())));
        detail.extend(path_lines(&link.path, theme));
    }
    if !link.evidence.is_empty() {
        detail.push(Line::default());
        detail.push(Line::from(Span::styled("evidence", theme.dim())));
        for e in &link.evidence {
            detail.push(Line::from(format!(" {e}")));
        }
    }
    if link.lane == Lane::Pull || link.id == crate::report::LinkId::Pod {
        detail.push(Line::default());
        detail.push(Line::from(Span::styled(pull_lane_title(f), theme.dim())));
    }
    if Some(link.id) == f.broken_link && !f.fixes.is_empty() {
        detail.push(Line::default());
        detail.push(Line::from(vec![
            Span::raw("press "),
            Span::styled("f", theme.key()),
            Span::raw(format!(" for the fix: {}", f.fixes[0].title)),
        ]));
    }
    // Padded, so that wrapped lines do not run into the chain's border. It scrolls (PgDn/J):
    // the title says when more is below or above.
    let evidence = Paragraph::new(detail).wrap(Wrap { trim: false });
    let lines = evidence.line_count(right.width.saturating_sub(1)) as u16;
    let limit = lines.saturating_sub(right.height.saturating_sub(1));
    app.set_evidence_limit(limit);
    let scroll = app.scroll().min(limit);
    let title = match (scroll > 0, scroll < limit) {
        (false, false) => " evidence ".to_string(),
        (false, true) => " evidence ↓ more: PgDn/J ".to_string(),
        (true, true) => " evidence ↑↓ PgUp/K PgDn/J ".to_string(),
        (true, false) => " evidence ↑ PgUp/K ".to_string(),
    };
    frame.render_widget(
        evidence.scroll((scroll, 0)).block(
            Block::new()
                .borders(Borders::TOP)
                .title(title)
                .padding(Padding::left(1)),
        ),
        right,
    );
}

/// The network path hop by hop, like the chain: the broken hop marked and coloured.
fn path_lines(path: &[crate::report::Hop], theme: Theme) -> Vec<Line<'static>> {
    let last = path.len().saturating_sub(1);
    path.iter()
        .enumerate()
        .map(|(i, hop)| {
            let branch = match i {
                0 => "┌",
                i if i == last => "└",
                _ => "├",
            };
            let pointer = if hop.status == Status::Broken {
                "▶"
            } else {
                " "
            };
            Line::from(vec![
                Span::raw(format!("{pointer}{branch} ")),
                Span::styled(
                    format!("{:<10}", marker(hop.status)),
                    theme.status(hop.status),
                ),
                Span::styled(format!(" {:<16} ", hop.kind.as_str()), theme.dim()),
                Span::raw(match hop.id.as_str() {
                    "" => hop.detail.clone(),
                    id => format!("{id}  {}", hop.detail),
                }),
            ])
        })
        .collect()
}

fn draw_fix(frame: &mut Frame, area: Rect, app: &App, f: &Finding, theme: Theme) {
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("fix for {} ", f.subject()), theme.title()),
        Span::styled(
            format!(
                "{}: {}",
                f.broken_link.map(|l| l.as_str()).unwrap_or("-"),
                f.cause.map(|c| c.as_str()).unwrap_or("-")
            ),
            theme.status(f.verdict),
        ),
    ])];
    lines.push(Line::from(f.summary.clone()));
    for (n, fix) in f.fixes.iter().enumerate() {
        lines.push(Line::default());
        let kind = if fix.writes {
            "changes AWS or the cluster"
        } else {
            "guided: no API call fixes this"
        };
        let chosen = if n == app.fix_choice() { "▶" } else { " " };
        lines.push(Line::from(vec![
            Span::styled(format!("{chosen}{}. {}", n + 1, fix.title), theme.title()),
            Span::styled(format!("  ({kind})"), theme.dim()),
        ]));
        for step in &fix.steps {
            lines.push(Line::from(format!("  {}", step.explain)));
            if let Some(command) = &step.command {
                lines.push(Line::from(vec![
                    Span::styled("  $ ", theme.key()),
                    Span::raw(command.clone()),
                ]));
            }
            if let Some(diff) = &step.diff {
                for d in diff.lines() {
                    let style = if d.starts_with('+') && !d.starts_with("+++") {
                        theme.added()
                    } else if d.starts_with('-') && !d.starts_with("---") {
                        theme.removed()
                    } else {
                        theme.dim()
                    };
                    lines.push(Line::from(Span::styled(format!("    {d}"), style)));
                }
            } else if let (Some(document), None) = (&step.document, &step.apply) {
                for d in document.lines() {
                    lines.push(Line::from(Span::styled(format!("    {d}"), theme.dim())));
                }
            }
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll(), 0))
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(" fix — y copies the commands ")
                    .padding(Padding::left(1)),
            ),
        area,
    );
}

fn draw_browse(frame: &mut Frame, area: Rect, app: &App, kind: browse::Kind, theme: Theme) {
    let Some(table) = app.browse_table() else {
        return;
    };
    let height = area.height.saturating_sub(3) as usize;
    let start = window(app.selected(), height);
    let last = table.headers.len() - 1;
    let rows: Vec<Row> = table
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, r)| {
            let cells: Vec<Cell> = r
                .cells
                .iter()
                .enumerate()
                .map(|(c, text)| {
                    if c == last {
                        Cell::from(Span::styled(text.clone(), theme.status(r.status)))
                    } else {
                        Cell::from(text.clone())
                    }
                })
                .collect();
            Row::new(cells).style(if i == app.selected() {
                theme.selected()
            } else {
                Style::new()
            })
        })
        .collect();
    // Each column as wide as its widest cell; the last takes the rest.
    let widths: Vec<Constraint> = (0..table.headers.len())
        .map(|c| {
            if c == last {
                return Constraint::Fill(1);
            }
            let widest = table
                .rows
                .iter()
                .map(|r| r.cells[c].chars().count())
                .chain([table.headers[c].len()])
                .max()
                .unwrap_or(4);
            Constraint::Length(widest.min(40) as u16)
        })
        .collect();
    let title = format!(
        " {} ({}) — enter shows who uses it ",
        kind.title(),
        table.rows.len()
    );
    frame.render_widget(
        Table::new(rows, widths)
            .header(Row::new(table.headers.clone()).style(theme.title()))
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(Span::styled(title, theme.title())),
            ),
        area,
    );
}

fn draw_related(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    title: &str,
    lines: &[String],
    findings: &[usize],
    theme: Theme,
) {
    let info = lines;
    let info_height = (info.len() as u16 + 1).min(area.height / 2);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(info_height + 1), Constraint::Fill(1)]).areas(area);
    let text: Vec<Line> = info.iter().map(|l| Line::from(format!(" {l}"))).collect();
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::TOP)
                .title(Span::styled(format!(" {title} "), theme.title())),
        ),
        top,
    );
    let height = bottom.height.saturating_sub(2) as usize;
    let start = window(app.selected(), height);
    let rows: Vec<Row> = findings
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, &fi)| {
            let f = &app.report().findings[fi];
            Row::new(vec![
                verdict_cell(f.verdict, theme),
                Cell::from(f.subject()),
                Cell::from(f.container.clone()),
                Cell::from(f.cause.map(|c| c.to_string()).unwrap_or_default()),
            ])
            .style(if i == app.selected() {
                theme.selected()
            } else {
                Style::new()
            })
        })
        .collect();
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Fill(2),
                Constraint::Length(12),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(vec!["VERDICT", "POD", "CONTAINER", "CAUSE"]).style(theme.title()))
        .block(
            Block::new()
                .borders(Borders::TOP)
                .title(" pods — enter opens the chain "),
        ),
        bottom,
    );
}

fn draw_wizard(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let lines: Vec<Line> = app
        .wizard()
        .lines()
        .into_iter()
        .map(|l| {
            let style = match l.kind {
                LineKind::Error => theme.status(Status::Broken),
                LineKind::Current => theme.key(),
                LineKind::Plain | LineKind::Verified => Style::new(),
            };
            // The block's padding indents every line, wrapped ones too.
            Line::from(Span::styled(l.text, style))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll(), 0))
            .block(
                Block::new()
                    .borders(Borders::TOP)
                    .title(Span::styled(" setup wizard ", theme.title()))
                    .padding(Padding::left(1)),
            ),
        area,
    );
}

fn draw_help(frame: &mut Frame, app: &App, theme: Theme) {
    let area = frame.area();
    let width = 76.min(area.width);
    // A key bound on several screens is one line: what it does on each, in table order.
    let mut keys: Vec<(&str, Vec<&keymap::Binding>)> = Vec::new();
    for b in keymap::BINDINGS {
        match keys.iter_mut().find(|(label, _)| *label == b.label) {
            // Said once when it does the same on several screens.
            Some((_, bindings)) if bindings.iter().any(|x| x.help == b.help) => {}
            Some((_, bindings)) => bindings.push(b),
            None => keys.push((b.label, vec![b])),
        }
    }
    let height = (keys.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines = Vec::new();
    for (label, bindings) in keys {
        let mut spans = vec![Span::styled(format!(" {label:<8}"), theme.key())];
        for (i, b) in bindings.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled("; ", theme.dim()));
            }
            let active = b.scope.covers(app.screen());
            let style = if active { Style::new() } else { theme.dim() };
            spans.push(Span::styled(b.help.to_string(), style));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Clear, popup);
    // The frame says what closes it and the one fact to keep in mind: every line inside is a
    // key's, so that all fit at 80×24.
    let block = Block::bordered()
        .title(Span::styled(" help · any key closes it ", theme.title()))
        .title_bottom(Span::styled(
            " kubelet pulls use the node's role, not the pod's IRSA/Pod Identity role ",
            theme.dim(),
        ));
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
