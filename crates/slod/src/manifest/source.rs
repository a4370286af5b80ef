//! From file text to located documents: YAML streams (several documents
//! separated by `---`) and JSON, each document a `serde_json::Value` with
//! the file, its number in the file (1-based) and the line it starts on.
//!
//! YAML is read with `saphyr-parser`'s event stream rather than a serde
//! deserializer: the events carry positions, so each document knows its
//! first line and a syntax error knows which document it broke. Scalars are
//! resolved by the YAML 1.2 core schema (`true`, `3`, `0.99`, `null`, `~`);
//! quoted scalars are always text. A top-level sequence is read as a list
//! of documents, one per item.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Where a document is: `slo.yaml: document 2 (line 14)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub file: String,
    /// 1-based, in the file.
    pub number: usize,
    /// 1-based line the document's content starts on.
    pub line: usize,
}

impl fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: document {} (line {})", self.file, self.number, self.line)
    }
}

/// What is wrong with a file or a document, located (SPEC §14):
/// `slo.yaml: document 2 (line 14): spec.objectives[0].target: must be
/// between 0 and 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// `None`: about the input as a whole (an unreadable file).
    pub at: Option<DocumentRef>,
    /// The field path inside the document, when the error is about one.
    pub field: Option<String>,
    pub message: String,
}

impl ManifestError {
    pub fn at(at: &DocumentRef, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { at: Some(at.clone()), field: Some(field.into()), message: message.into() }
    }

    /// An error about a whole document (a syntax error, a duplicate).
    pub fn document(at: &DocumentRef, message: impl Into<String>) -> Self {
        Self { at: Some(at.clone()), field: None, message: message.into() }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self { at: None, field: None, message: message.into() }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestError {}

/// One document as read, before its kind is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDocument {
    pub at: DocumentRef,
    pub value: Value,
}

/// How a file's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// By extension: `.json` is JSON, anything else YAML (which JSON
    /// mostly is, but JSON files get JSON's own parser and messages).
    pub fn of_path(path: &str) -> Self {
        if path.to_ascii_lowercase().ends_with(".json") {
            Self::Json
        } else {
            Self::Yaml
        }
    }
}

/// The documents of one file. Empty documents (a stray `---`) are skipped
/// but keep their number, so numbers match what an editor shows.
pub fn parse(file: &str, text: &str, format: Format) -> Result<Vec<RawDocument>, ManifestError> {
    match format {
        Format::Json => parse_json(file, text),
        Format::Yaml => parse_yaml(file, text),
    }
}

fn parse_json(file: &str, text: &str) -> Result<Vec<RawDocument>, ManifestError> {
    let value: Value = serde_json::from_str(text).map_err(|err| {
        let at = DocumentRef { file: file.to_owned(), number: 1, line: 1 };
        ManifestError::document(
            &at,
            format!("line {} column {}: {}", err.line(), err.column(), json_reason(&err)),
        )
    })?;
    let at = |number| DocumentRef { file: file.to_owned(), number, line: 1 };
    Ok(match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_null())
            .map(|(i, value)| RawDocument { at: at(i + 1), value })
            .collect(),
        Value::Null => Vec::new(),
        value => vec![RawDocument { at: at(1), value }],
    })
}

/// serde_json's message without its own " at line L column C" tail.
fn json_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// Limits that keep a hostile file (a request body) from exhausting the
/// stack or memory: nesting deeper than any SLO document needs, and
/// aliases expanding into more nodes than any set of SLO files holds (the
/// "billion laughs").
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 200_000;

/// A container being built; `nodes_before` is the node count when it began,
/// so its own size is known when it ends (for aliases to it).
enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
        item_lines: Vec<usize>,
        nodes_before: usize,
    },
    Mapping {
        map: Map<String, Value>,
        anchor: usize,
        key: Option<String>,
        line: usize,
        nodes_before: usize,
    },
}

fn parse_yaml(file: &str, text: &str) -> Result<Vec<RawDocument>, ManifestError> {
    let mut documents = Vec::new();
    let mut number = 0;
    // The line of the current document's first node (0 until seen).
    let mut doc_line = 0;
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored value with its size in nodes.
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut nodes: usize = 0;
    let here = |number: usize, line: usize| DocumentRef {
        file: file.to_owned(),
        number: number.max(1),
        line: line.max(1),
    };
    let mut root: Option<(Value, Vec<usize>)> = None;
    for event in Parser::new_from_str(text) {
        let (event, span): (Event<'_>, Span) = match event {
            Ok(event) => event,
            Err(err) => {
                let mark = err.marker();
                let line = if doc_line == 0 { mark.line() } else { doc_line };
                return Err(ManifestError::document(
                    &here(number, line),
                    format!("line {} column {}: {}", mark.line(), mark.col() + 1, err.info()),
                ));
            }
        };
        let line = span.start.line();
        let at = here(number, if doc_line == 0 { line } else { doc_line });
        if stack.len() > MAX_DEPTH {
            return Err(ManifestError::document(
                &at,
                format!("line {line}: nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        if nodes > MAX_NODES {
            return Err(ManifestError::document(
                &at,
                format!("line {line}: more than {MAX_NODES} values (aliases included)"),
            ));
        }
        // The size of the value finished by this event, in nodes.
        let mut size = 1;
        // Where a finished container began, for a top-level list's items.
        let mut item_start = None;
        let finished: Option<(Value, usize, Vec<usize>)> = match event {
            Event::DocumentStart(_) => {
                number += 1;
                doc_line = 0;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some((value, item_lines)) = root.take() {
                    push_documents(&mut documents, file, number, doc_line, value, item_lines);
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                nodes += 1;
                if doc_line == 0 {
                    doc_line = line;
                }
                let verbatim = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !verbatim {
                    resolve_plain(&text)
                } else {
                    Value::String(text.into_owned())
                };
                Some((value, anchor, Vec::new()))
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((value, anchored_size)) => {
                    size = *anchored_size;
                    nodes = nodes.saturating_add(size);
                    if nodes > MAX_NODES {
                        return Err(ManifestError::document(
                            &at,
                            format!("line {line}: more than {MAX_NODES} values (aliases included)"),
                        ));
                    }
                    Some((value.clone(), 0, Vec::new()))
                }
                None => {
                    return Err(ManifestError::document(
                        &at,
                        format!("line {line}: an alias to an unknown anchor"),
                    ))
                }
            },
            Event::SequenceStart(anchor, _) => {
                if doc_line == 0 {
                    doc_line = line;
                }
                nodes += 1;
                stack.push(Frame::Sequence {
                    items: Vec::new(),
                    anchor,
                    item_lines: Vec::new(),
                    nodes_before: nodes,
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if doc_line == 0 {
                    doc_line = line;
                }
                nodes += 1;
                stack.push(Frame::Mapping {
                    map: Map::new(),
                    anchor,
                    key: None,
                    line,
                    nodes_before: nodes,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Sequence { items, anchor, item_lines, nodes_before }) => {
                    size = 1 + nodes - nodes_before;
                    Some((Value::Array(items), anchor, item_lines))
                }
                _ => return Err(ManifestError::document(&at, "the YAML events are out of order")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Mapping { map, anchor, line: start, nodes_before, .. }) => {
                    size = 1 + nodes - nodes_before;
                    item_start = Some(start);
                    Some((Value::Object(map), anchor, Vec::new()))
                }
                _ => return Err(ManifestError::document(&at, "the YAML events are out of order")),
            },
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
        };
        let Some((value, anchor, item_lines)) = finished else { continue };
        if anchor != 0 {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some((value, item_lines)),
            Some(Frame::Sequence { items, item_lines: lines, .. }) => {
                // Roughly where the item began: the line of its last event
                // for a container, exact for a scalar. Only a top-level
                // list's item lines are used, and there a mapping item's
                // own start is recorded below.
                lines.push(item_start.unwrap_or(line));
                items.push(value);
            }
            Some(Frame::Mapping { map, key, .. }) => match key.take() {
                None => {
                    let name = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".to_owned(),
                        _ => {
                            return Err(ManifestError::document(
                                &at,
                                format!("line {line}: a mapping key must be plain text"),
                            ))
                        }
                    };
                    if map.contains_key(&name) {
                        return Err(ManifestError::document(
                            &at,
                            format!("line {line}: the key `{name}` appears twice"),
                        ));
                    }
                    *key = Some(name);
                }
                Some(name) => {
                    map.insert(name, value);
                }
            },
        }
    }
    Ok(documents)
}

/// A document's root: a mapping is one document, a sequence is a list of
/// documents (one per item), `null` (an empty document) none.
fn push_documents(
    out: &mut Vec<RawDocument>,
    file: &str,
    number: usize,
    line: usize,
    value: Value,
    item_lines: Vec<usize>,
) {
    let at = |number, line: usize| DocumentRef { file: file.to_owned(), number, line: line.max(1) };
    match value {
        Value::Null => {}
        Value::Array(items) => {
            let base = out.last().map_or(0, |d: &RawDocument| d.at.number).max(number - 1);
            for (i, item) in items.into_iter().enumerate() {
                if !item.is_null() {
                    let line = item_lines.get(i).copied().unwrap_or(line);
                    out.push(RawDocument { at: at(base + i + 1, line), value: item });
                }
            }
        }
        value => out.push(RawDocument { at: at(number, line), value }),
    }
}

/// A plain scalar by the YAML 1.2 core schema.
pub(super) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Value::Number(n.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            return Value::Number(n.into());
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(n) = i64::from_str_radix(oct, 8) {
            return Value::Number(n.into());
        }
    }
    let float_like = !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_like {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(text: &str) -> Vec<RawDocument> {
        parse("slo.yaml", text, Format::Yaml).unwrap()
    }

    #[test]
    fn documents_know_their_number_and_first_line() {
        let docs = yaml("# a comment\nkind: Service\nmetadata:\n  name: api\n---\n\nkind: SLO\nspec:\n  target: 0.99\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].at.to_string(), "slo.yaml: document 1 (line 2)");
        assert_eq!(docs[0].value, json!({"kind": "Service", "metadata": {"name": "api"}}));
        assert_eq!(docs[1].at.to_string(), "slo.yaml: document 2 (line 7)");
        assert_eq!(docs[1].value["spec"]["target"], json!(0.99));
    }

    #[test]
    fn scalars_follow_the_core_schema_and_quotes_keep_text() {
        let docs = yaml("a: 30\nb: 0.999\nc: true\nd: ~\ne: '30'\nf: 2w\ng: -1.5e3\nh: !!str 12\ni: 0x1F\nj: .inf\n");
        assert_eq!(
            docs[0].value,
            json!({"a": 30, "b": 0.999, "c": true, "d": null, "e": "30", "f": "2w", "g": -1500.0,
                   "h": "12", "i": 31, "j": ".inf"})
        );
    }

    #[test]
    fn anchors_aliases_and_flow_style_are_read() {
        let docs = yaml("base: &b {x: 1, y: [a, b]}\ncopy: *b\n");
        assert_eq!(docs[0].value["copy"], json!({"x": 1, "y": ["a", "b"]}));
    }

    #[test]
    fn empty_documents_are_skipped_but_counted() {
        let docs = yaml("---\n---\nkind: SLO\n---\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].at.number, 2);
        assert_eq!(docs[0].at.line, 3);
    }

    #[test]
    fn a_top_level_list_is_a_list_of_documents() {
        let docs = yaml(
            "- kind: Service\n  metadata: {name: a}\n- kind: Service\n  metadata: {name: b}\n",
        );
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[1].at.number, docs[1].at.line), (2, 3));
    }

    #[test]
    fn syntax_errors_name_the_document_and_the_position() {
        let err =
            parse("slo.yaml", "kind: SLO\n---\nkind: SLO\nspec:\n  target: [1, 2\n", Format::Yaml)
                .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("slo.yaml: document 2 (line 3): line "), "{text}");
        let err = parse("x.yaml", "a: 1\na: 2\n", Format::Yaml).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.yaml: document 1 (line 1): line 2: the key `a` appears twice"
        );
    }

    #[test]
    fn hostile_nesting_and_alias_bombs_are_refused_not_followed() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = parse("x.yaml", &deep, Format::Yaml).unwrap_err().to_string();
        // The parser's own limit (256) catches flow style first.
        assert!(err.contains("recursion limit exceeded"), "{err}");
        let block: String =
            (0..100).map(|depth| format!("{}k{depth}:\n", " ".repeat(depth))).collect();
        let err = parse("x.yaml", &block, Format::Yaml).unwrap_err();
        assert!(err.to_string().contains("nested more than 64 levels deep"), "{err}");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = parse("x.yaml", &bomb, Format::Yaml).unwrap_err();
        assert!(err.to_string().contains("more than 200000 values"), "{err}");
    }

    #[test]
    fn json_files_are_one_document_or_a_list() {
        let docs =
            parse("slo.json", r#"[{"kind": "SLO"}, {"kind": "Service"}]"#, Format::Json).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].at.number, 2);
        let err = parse("slo.json", "{\n  \"kind\": \n}", Format::Json).unwrap_err();
        assert!(
            err.to_string().starts_with("slo.json: document 1 (line 1): line 3 column 1: "),
            "{err}"
        );
        assert_eq!(Format::of_path("a/B.JSON"), Format::Json);
        assert_eq!(Format::of_path("a/b.yml"), Format::Yaml);
    }
}
