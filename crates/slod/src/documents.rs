//! SLA statements as documents (SPEC §17): CSV (one row per objective,
//! header first) and PDF (the same table, then each objective's
//! intervals), rendered from the JSON statement so that every format says
//! the same numbers.
//!
//! CSV numbers are written as JSON writes them (Rust's shortest
//! round-trip form), so a CSV cell parses to exactly the JSON value. The
//! PDF is for people: percentages with 4 decimals and minutes with 2, in
//! the built-in Helvetica (WinAnsi text; characters it cannot show become
//! `?`), laid out in lines that `pdftotext` reads back in order.

use std::fmt::Write as _;

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

use crate::service::reports::SlaStatement;

/// The CSV columns, in order (SPEC §17).
pub const CSV_HEADER: &str = "objective_id,objective_name,system_id,system_name,target,\
                              availability_percent,met,consumed_minutes";

/// One CSV field, quoted (RFC 4180) when it holds a comma, a quote or a
/// line break.
fn csv_field(raw: &str) -> String {
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw.to_owned()
    }
}

/// The statement as CSV: the header, then one line per objective.
pub fn csv(statement: &SlaStatement) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for o in &statement.objectives {
        let fields = [
            csv_field(o.objective_id.as_str()),
            csv_field(o.name.as_deref().unwrap_or("")),
            csv_field(o.system_id.as_str()),
            csv_field(&o.system_name),
            o.target.to_string(),
            o.availability_percent.to_string(),
            o.met.to_string(),
            o.consumed_minutes.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A percentage as the PDF shows it.
pub fn pdf_percent(value: f64) -> String {
    format!("{value:.4}")
}

/// Minutes as the PDF shows them.
pub fn pdf_minutes(value: f64) -> String {
    format!("{value:.2}")
}

/// `text` in WinAnsi bytes: ASCII and Latin-1 as themselves, anything else
/// `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            code @ (0x20..=0x7e | 0xa0..=0xff) => u8::try_from(code).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

/// One line of a page: where it starts, its font size, bold or not, and
/// its cells with their x offsets.
struct Line {
    size: f32,
    bold: bool,
    cells: Vec<(f32, String)>,
}

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;

/// The statement as a PDF document.
pub fn pdf(statement: &SlaStatement) -> Vec<u8> {
    let mut lines: Vec<Line> = Vec::new();
    let line = |size: f32, bold: bool, cells: Vec<(f32, String)>| Line { size, bold, cells };
    let period = format!(
        "Period: {} to {} (UTC, end exclusive)",
        statement.from.date(),
        statement.to.date()
    );
    lines.push(line(16.0, true, vec![(0.0, "SLA statement".into())]));
    lines.push(line(10.0, false, vec![(0.0, period)]));
    lines.push(line(10.0, false, vec![]));
    // The table: one row per objective.
    let columns = [0.0, 150.0, 250.0, 300.0, 380.0, 420.0];
    let header = ["Objective", "System", "Target %", "Availability %", "Met", "Consumed min"];
    lines.push(line(
        9.0,
        true,
        columns.iter().zip(header).map(|(x, h)| (*x, h.to_owned())).collect(),
    ));
    for o in &statement.objectives {
        let label = o.name.clone().unwrap_or_else(|| o.objective_id.to_string());
        let cells = [
            label,
            o.system_name.clone(),
            o.target.to_string(),
            pdf_percent(o.availability_percent),
            if o.met { "yes" } else { "no" }.to_owned(),
            pdf_minutes(o.consumed_minutes),
        ];
        lines.push(line(9.0, false, columns.iter().copied().zip(cells).collect()));
    }
    // Each objective's intervals.
    for o in &statement.objectives {
        lines.push(line(10.0, false, vec![]));
        let label = o.name.clone().unwrap_or_else(|| o.objective_id.to_string());
        let mut title = String::new();
        let _ = write!(
            title,
            "{label} ({}): availability {} %, consumed {} min",
            o.system_name,
            pdf_percent(o.availability_percent),
            pdf_minutes(o.consumed_minutes)
        );
        lines.push(line(11.0, true, vec![(0.0, title)]));
        if o.intervals.is_empty() {
            lines.push(line(9.0, false, vec![(0.0, "No downtime in the period.".into())]));
            continue;
        }
        let columns = [0.0, 110.0, 220.0, 280.0, 370.0, 440.0];
        let header = ["Start (UTC)", "End (UTC)", "Minutes", "Cause", "Upstream", "Consumed"];
        lines.push(line(
            9.0,
            true,
            columns.iter().zip(header).map(|(x, h)| (*x, h.to_owned())).collect(),
        ));
        for i in &o.intervals {
            let when = |t: slod_core::time::Timestamp| t.to_datetime().format("%Y-%m-%d %H:%M");
            let cells = [
                when(i.start).to_string(),
                when(i.end).to_string(),
                pdf_minutes(i.minutes),
                i.cause.as_str().to_owned(),
                i.upstream_system_id.as_ref().map_or_else(|| "-".into(), |u| u.to_string()),
                if i.consumed { "yes" } else { "no" }.to_owned(),
            ];
            lines.push(line(9.0, false, columns.iter().copied().zip(cells).collect()));
        }
    }
    render(&lines)
}

/// Lays `lines` out top to bottom over as many A4 pages as they need.
fn render(lines: &[Line]) -> Vec<u8> {
    let mut pages: Vec<Vec<&Line>> = vec![Vec::new()];
    let mut y = PAGE_HEIGHT - MARGIN;
    for line in lines {
        let height = line.size * 1.5;
        if y - height < MARGIN {
            pages.push(Vec::new());
            y = PAGE_HEIGHT - MARGIN;
        }
        y -= height;
        if let Some(page) = pages.last_mut() {
            page.push(line);
        }
    }

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let count = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    let page_ids: Vec<Ref> = (0..count).map(|n| Ref::new(5 + 2 * n)).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(count);
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (page_lines, id) in pages.iter().zip(&page_ids) {
        let contents = Ref::new(id.get() + 1);
        let mut page = pdf.page(*id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(contents);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"F1"), regular);
        fonts.pair(Name(b"F2"), bold);
        drop(fonts);
        drop(resources);
        drop(page);

        let mut content = Content::new();
        let mut y = PAGE_HEIGHT - MARGIN;
        for line in page_lines {
            y -= line.size * 1.5;
            for (x, text) in &line.cells {
                content.begin_text();
                content.set_font(Name(if line.bold { b"F2" } else { b"F1" }), line.size);
                content.next_line(MARGIN + x, y);
                content.show(Str(&win_ansi(text)));
                content.end_text();
            }
        }
        pdf.stream(contents, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use slod_core::corrections::{Cause, StatementInterval};
    use slod_core::model::SystemId;
    use slod_core::time::Timestamp;

    use super::*;
    use crate::service::reports::ObjectiveStatement;

    fn statement(objectives: usize) -> SlaStatement {
        let t = |raw: &str| Timestamp::parse(raw).unwrap();
        let one = ObjectiveStatement {
            objective_id: slod_core::model::ObjectiveId::from_trusted("o-1".into()),
            name: Some("checkout, \"main\"".into()),
            system_id: SystemId::parse("api", "id").unwrap(),
            system_name: "API Ünïcode ☃".into(),
            target: 99.9,
            availability_percent: 99.5,
            met: false,
            consumed_minutes: 216.0,
            intervals: vec![StatementInterval {
                start: t("2026-02-03T10:00:00Z"),
                end: t("2026-02-03T13:36:00Z"),
                minutes: 216.0,
                cause: Cause::SelfCaused,
                upstream_system_id: None,
                consumed: true,
            }],
        };
        SlaStatement {
            from: t("2026-02-01T00:00:00Z"),
            to: t("2026-03-01T00:00:00Z"),
            objectives: vec![one; objectives],
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let text = csv(&statement(1));
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next(), Some(CSV_HEADER));
        assert_eq!(
            lines.next(),
            Some("o-1,\"checkout, \"\"main\"\"\",api,API Ünïcode ☃,99.9,99.5,false,216")
        );
        assert_eq!(lines.next(), Some(""));
    }

    #[test]
    fn a_pdf_of_many_objectives_spans_pages() {
        let bytes = pdf(&statement(120));
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        let count: u32 = text
            .split("/Count ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(count > 1, "{count} page(s)");
        assert_eq!(win_ansi("é☃a"), vec![0xe9, b'?', b'a']);
    }
}
