//! Labels: a key made readable (digests and SHAs cut to 12 hex digits,
//! control and direction-changing characters made visible), wrapped, and
//! escaped for each format.

use std::fmt::Write;

use provgraph_model::NodeKind;

/// Hex digits a digest or SHA keeps in a label.
pub const SHORT_HEX: usize = 12;

/// Characters of a label line before it wraps.
pub const WRAP: usize = 48;

/// The key as a label shows it: a digest (`sha256:` + hex) or commit SHA
/// cut to its first 12 hex digits, any other key whole; characters that
/// would not show (control, direction overrides) written as `\n`, `\u{..}`.
pub fn readable_key(kind: NodeKind, key: &str) -> String {
    visible(shorten(kind, key))
}

fn shorten(kind: NodeKind, key: &str) -> &str {
    let hex_prefix = |text: &str, at: usize| {
        text.len() > at + SHORT_HEX && text.as_bytes()[at..].iter().all(u8::is_ascii_hexdigit)
    };
    match kind {
        NodeKind::Artifact | NodeKind::Gomod | NodeKind::Signature | NodeKind::Attestation
            if key.starts_with("sha256:") && hex_prefix(key, "sha256:".len()) =>
        {
            &key[.."sha256:".len() + SHORT_HEX]
        }
        NodeKind::Commit if hex_prefix(key, 0) => &key[..SHORT_HEX],
        _ => key,
    }
}

/// `text` with every character that would not show, or would change how
/// the rest shows, written out as an escape: `\n`, `\r`, `\t`, `\u{1b}`.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Control characters, characters XML 1.0 does not allow, and the
/// invisible ones that reorder or hide text (bidirectional overrides,
/// zero-width characters, the byte order mark).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}')
}

/// `text` cut into lines of at most [`WRAP`] characters (at least one line).
pub fn wrap(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(WRAP)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// Escaped for XML text and attribute values.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded as one URL path segment: every byte but ASCII
/// letters, digits and `-._~:@` as `%XX`, so `/`, `%`, `?` and `#` of a
/// key stay inside the segment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Escaped for the inside of a DOT double-quoted string: backslashes
/// doubled (so no `\N`, `\G` or `\l` escape of Graphviz applies) and quotes
/// escaped. The text must already be [`visible`] (no line breaks).
pub fn dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// Escaped for the inside of a Mermaid `"..."` label: every character
/// but ASCII letters, digits, space and `.,/@-_+=` as an entity code
/// (`#58;`), which Mermaid decodes; so no quote, bracket, `;`, `:`, `#`,
/// `<` or `&` of a key reaches its parser or its HTML.
pub fn mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if mermaid_plain(c) {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

/// Characters a Mermaid label holds as they are.
pub fn mermaid_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | ',' | '/' | '@' | '-' | '_' | '+' | '=')
}

/// Fill and stroke of a node of `kind`, in every format.
pub fn colours(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Repository => ("#dbeafe", "#1d4ed8"),
        NodeKind::Commit => ("#e0e7ff", "#4338ca"),
        NodeKind::Gomod => ("#fef9c3", "#a16207"),
        NodeKind::Build => ("#fde68a", "#b45309"),
        NodeKind::Artifact => ("#dcfce7", "#15803d"),
        NodeKind::Workload => ("#fce7f3", "#be185d"),
        NodeKind::Signature => ("#ede9fe", "#6d28d9"),
        NodeKind::Attestation => ("#f3e8ff", "#7e22ce"),
        NodeKind::Identity => ("#e2e8f0", "#334155"),
        NodeKind::Module => ("#ccfbf1", "#0f766e"),
        NodeKind::Package => ("#cffafe", "#0e7490"),
        NodeKind::Vulnerability => ("#fee2e2", "#b91c1c"),
    }
}

/// The lines of a drawn node's label: its kind (with the count of a
/// group), then its readable key wrapped, or for a group how many it holds
/// and the first of them.
pub fn node_lines(kind: NodeKind, keys: &[&str]) -> Vec<String> {
    match keys {
        [key] => {
            let mut lines = vec![kind.as_str().to_string()];
            lines.extend(wrap(&readable_key(kind, key)));
            lines
        }
        _ => {
            let mut lines = vec![
                format!("{} \u{d7}{}", kind.as_str(), keys.len()),
                format!("{} nodes, the first:", keys.len()),
            ];
            if let Some(first) = keys.first() {
                lines.extend(wrap(&readable_key(kind, first)));
            }
            lines
        }
    }
}

/// An edge's label: its kind, with the count of edges it stands for.
pub fn edge_label(kind: provgraph_model::EdgeKind, count: usize) -> String {
    if count > 1 {
        format!("{} \u{d7}{count}", kind.as_str())
    } else {
        kind.as_str().to_string()
    }
}
