//! Checkers for what this crate writes, for its tests, the fuzz target and
//! the end-to-end tests: XML well-formedness (for the SVG), and the
//! statement structure of the DOT and Mermaid documents. Each answers how
//! many nodes and edges it read, or where the document goes wrong.

use std::collections::HashSet;

/// Nodes and edges a document declares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub nodes: usize,
    pub edges: usize,
}

/// Checks that `text` is a well-formed XML document: one root element,
/// tags balanced, attributes quoted and not repeated, every `&` a known or
/// numeric reference to an XML character, no `<` in text or values, only
/// characters XML allows. Counts `<g class="node"` and `<g class="edge"`.
pub fn xml_well_formed(text: &str) -> Result<Counts, String> {
    let mut counts = Counts::default();
    if let Some(c) = text.chars().find(|&c| !xml_char(c)) {
        return Err(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ));
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = text;
    let mut at = 0;
    while !rest.is_empty() {
        let offset = text.len() - rest.len();
        at = offset;
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after
                .find("-->")
                .ok_or(format!("comment at {at} not closed"))?;
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<?") {
            let end = after
                .find("?>")
                .ok_or(format!("declaration at {at} not closed"))?;
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after
                .find('>')
                .ok_or(format!("end tag at {at} not closed"))?;
            let name = after[..end].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> at {at} closes {other:?}")),
            }
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').ok_or(format!("tag at {at} not closed"))?;
            let (inside, empty) = match after[..end].strip_suffix('/') {
                Some(inside) => (inside, true),
                None => (&after[..end], false),
            };
            let name = tag(inside).map_err(|err| format!("tag at {at}: {err}"))?;
            if stack.is_empty() {
                roots += 1;
            }
            if name == "g" && inside.contains(" class=\"node\"") {
                counts.nodes += 1;
            }
            if name == "g" && inside.contains(" class=\"edge\"") {
                counts.edges += 1;
            }
            if !empty {
                stack.push(name);
            }
            rest = &after[end + 1..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let chunk = &rest[..end];
            if stack.is_empty() && !chunk.trim().is_empty() {
                return Err(format!("text outside the root element at {at}"));
            }
            if chunk.contains("]]>") {
                return Err(format!("']]>' in text at {at}"));
            }
            references(chunk).map_err(|err| format!("text at {at}: {err}"))?;
            rest = &rest[end..];
        }
    }
    match (roots, stack.last()) {
        (1, None) => Ok(counts),
        (_, Some(open)) => Err(format!("<{open}> not closed at the end ({at})")),
        (n, None) => Err(format!("{n} root elements")),
    }
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
}

/// The name of a start tag's inside (`name attr="value" ...`), its
/// attributes checked.
fn tag(inside: &str) -> Result<&str, String> {
    let name_end = inside
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(inside.len());
    let name = &inside[..name_end];
    if !name_ok(name) {
        return Err(format!("bad element name {name:?}"));
    }
    let mut rest = &inside[name_end..];
    let mut seen = HashSet::new();
    loop {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return Ok(name);
        }
        if trimmed.len() == rest.len() {
            return Err("attributes not separated by space".into());
        }
        let eq = trimmed.find('=').ok_or("attribute without a value")?;
        let attr = trimmed[..eq].trim_end();
        if !name_ok(attr) || !seen.insert(attr) {
            return Err(format!("bad or repeated attribute {attr:?}"));
        }
        let value = trimmed[eq + 1..].trim_start();
        let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'');
        let quote = quote.ok_or(format!("attribute {attr} not quoted"))?;
        let close = value[1..]
            .find(quote)
            .ok_or(format!("attribute {attr} not closed"))?;
        let content = &value[1..1 + close];
        if content.contains('<') {
            return Err(format!("'<' in attribute {attr}"));
        }
        references(content)?;
        rest = &value[close + 2..];
    }
}

/// Every `&` in `text` starts a reference to a predefined entity or to an
/// XML character.
fn references(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let end = after.find(';').ok_or("'&' without ';'")?;
        let name = &after[..end];
        let ok = match name.strip_prefix('#') {
            Some(number) => {
                let code = match number.strip_prefix('x') {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => number.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32).is_some_and(xml_char)
            }
            None => matches!(name, "amp" | "lt" | "gt" | "quot" | "apos"),
        };
        if !ok {
            return Err(format!("bad reference &{name};"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Checks a Mermaid document as this crate writes it: `flowchart RL`, then
/// node lines `nI["label"]`, edge lines `nI -->|"label"| nJ` (or `-.->`),
/// `classDef KIND fill:#rrggbb,stroke:#rrggbb` and `class nI,nJ KIND`;
/// labels hold only plain characters, entity codes (`#58;`) and `<br/>`;
/// every node named is declared once.
pub fn mermaid_structure(text: &str) -> Result<Counts, String> {
    let mut lines = text.lines();
    if lines.next() != Some("flowchart RL") {
        return Err("the first line is not `flowchart RL`".into());
    }
    let mut declared = HashSet::new();
    let mut named = Vec::new();
    let mut counts = Counts::default();
    for (number, line) in lines.enumerate() {
        let fail = |what: &str| format!("line {}: {what}: {line:?}", number + 2);
        let body = line
            .strip_prefix("  ")
            .ok_or_else(|| fail("not indented"))?;
        if let Some(style) = body.strip_prefix("classDef ") {
            let (kind, colours) = style.split_once(' ').ok_or_else(|| fail("classDef"))?;
            let colour_ok = |c: &str| {
                c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
            };
            let ok = upper(kind)
                && colours
                    .strip_prefix("fill:")
                    .and_then(|c| c.split_once(",stroke:"))
                    .is_some_and(|(fill, stroke)| colour_ok(fill) && colour_ok(stroke));
            if !ok {
                return Err(fail("classDef"));
            }
        } else if let Some(class) = body.strip_prefix("class ") {
            let (ids, kind) = class.split_once(' ').ok_or_else(|| fail("class"))?;
            if !upper(kind) {
                return Err(fail("class name"));
            }
            for id in ids.split(',') {
                named.push(id_of(id).ok_or_else(|| fail("class member"))?);
            }
        } else if let Some((id, label)) =
            body.split_once("[\"").filter(|(id, _)| id_of(id).is_some())
        {
            let label = label.strip_suffix("\"]").ok_or_else(|| fail("node end"))?;
            if !label_ok(label) {
                return Err(fail("node label characters"));
            }
            let id = id_of(id).ok_or_else(|| fail("node id"))?;
            if !declared.insert(id) {
                return Err(fail("node declared twice"));
            }
            counts.nodes += 1;
        } else {
            let (from, rest) = body.split_once(' ').ok_or_else(|| fail("statement"))?;
            let link = rest
                .strip_prefix("-->|\"")
                .or_else(|| rest.strip_prefix("-.->|\""))
                .ok_or_else(|| fail("link"))?;
            let (label, to) = link.split_once("\"| ").ok_or_else(|| fail("link label"))?;
            if !label_ok(label) {
                return Err(fail("link label characters"));
            }
            named.push(id_of(from).ok_or_else(|| fail("link from"))?);
            named.push(id_of(to).ok_or_else(|| fail("link to"))?);
            counts.edges += 1;
        }
    }
    match named.iter().find(|id| !declared.contains(*id)) {
        Some(id) => Err(format!("n{id} is used but not declared")),
        None => Ok(counts),
    }
}

fn upper(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

fn id_of(text: &str) -> Option<usize> {
    let digits = text.strip_prefix('n')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Plain characters, `#N;` entity codes and `<br/>` only.
fn label_ok(label: &str) -> bool {
    let mut rest = label;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("<br/>") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix('#') {
            let Some(end) = after.find(';') else {
                return false;
            };
            if end == 0 || !after[..end].bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest = &after[end + 1..];
        } else if crate::label::mermaid_plain(c) {
            rest = &rest[c.len_utf8()..];
        } else {
            return false;
        }
    }
    true
}

/// Checks a DOT document as this crate writes it: `digraph lineage {`,
/// statements `graph|node|edge [attrs];`, `nI [attrs];` and `nI -> nJ
/// [attrs];`, `}`; every attribute `name=value` with the value a bare word
/// or a double-quoted string whose quotes and backslashes are escaped.
pub fn dot_structure(text: &str) -> Result<Counts, String> {
    let mut lines = text.lines();
    if lines.next() != Some("digraph lineage {") {
        return Err("the first line is not `digraph lineage {`".into());
    }
    let mut counts = Counts::default();
    let mut closed = false;
    for (number, line) in lines.enumerate() {
        let fail = |what: &str| format!("line {}: {what}: {line:?}", number + 2);
        if closed {
            return Err(fail("after the closing brace"));
        }
        if line == "}" {
            closed = true;
            continue;
        }
        let body = line
            .strip_prefix("  ")
            .ok_or_else(|| fail("not indented"))?;
        let body = body
            .strip_suffix("];")
            .ok_or_else(|| fail("statement end"))?;
        let (head, attrs) = body.split_once(" [").ok_or_else(|| fail("attributes"))?;
        match head.split_once(" -> ") {
            Some((from, to)) => {
                id_of(from)
                    .zip(id_of(to))
                    .ok_or_else(|| fail("edge ends"))?;
                counts.edges += 1;
            }
            None if matches!(head, "graph" | "node" | "edge") => {}
            None => {
                id_of(head).ok_or_else(|| fail("node id"))?;
                counts.nodes += 1;
            }
        }
        dot_attributes(attrs).map_err(|err| fail(&err))?;
    }
    if closed {
        Ok(counts)
    } else {
        Err("no closing brace".into())
    }
}

fn dot_attributes(mut rest: &str) -> Result<(), String> {
    loop {
        let eq = rest.find('=').ok_or("attribute without '='")?;
        let name = &rest[..eq];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(format!("attribute name {name:?}"));
        }
        let value = &rest[eq + 1..];
        let after = if let Some(quoted) = value.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = Some(at);
                        break;
                    }
                    '\n' | '\r' => return Err("line break in a string".into()),
                    _ => {}
                }
            }
            let end = end.ok_or("string not closed")?;
            &quoted[end + 1..]
        } else {
            let end = value.find(',').unwrap_or(value.len());
            if !value[..end].bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("bare value {:?}", &value[..end]));
            }
            &value[end..]
        };
        if after.is_empty() {
            return Ok(());
        }
        rest = after
            .strip_prefix(", ")
            .ok_or("attributes not separated by ', '")?;
    }
}
