//! `provgraph import` of vulnerability databases: the Go vulnerability
//! database's and OSV's zip exports (`vulndb.zip` with its `index/` files
//! skipped, `all.zip`, `<ecosystem>/all.zip`) and
//! directories of OSV records, read record by record and checked here (a
//! record that does not parse is refused, counted and never sent), then
//! posted to `/v1/evidence` as OSV arrays of [`BATCH`] records. A re-import
//! is idempotent: the server keeps the record with the newer `modified`.

use std::io::Read;
use std::path::{Path, PathBuf};

use provgraph_vuln::{Format, json_values, parse_as, recognize};
use serde_json::Value;

/// Whether a database entry is one of vuln.go.dev's index files
/// (`index/db.json`, `index/modules.json`, `index/vulns.json`), which
/// `vulndb.zip` carries beside the records: skipped, not refused.
fn is_index(entry: &str) -> bool {
    entry.split(['/', '\\']).any(|part| part == "index")
}

/// Records per request.
pub(crate) const BATCH: usize = 500;
/// A record larger than this (uncompressed) is refused unread.
const MAX_RECORD_BYTES: u64 = 4 * 1024 * 1024;

/// What an import of databases did.
#[derive(Debug, Default)]
pub(crate) struct OsvTally {
    pub(crate) records: usize,
    pub(crate) new: u64,
    pub(crate) updated: u64,
    pub(crate) unchanged: u64,
    /// Records that did not parse (not sent), with why.
    pub(crate) refused: Vec<String>,
    /// Batches the server did not take, with why.
    pub(crate) failed: Vec<String>,
}

/// Whether `path` is a database to read record by record: a directory or
/// a zip export.
pub(crate) fn is_database(path: &Path) -> bool {
    path.is_dir()
        || path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("zip"))
}

/// How a batch goes to the server.
pub(crate) struct Poster<'a> {
    pub(crate) client: &'a reqwest::Client,
    /// `.../v1/evidence`.
    pub(crate) url: &'a str,
    /// Progress lines (done, total or 0 when unknown, line).
    pub(crate) progress: &'a dyn Fn(usize, usize, &str),
}

/// Reads every record of the databases and posts them in batches.
pub(crate) async fn import_databases(poster: &Poster<'_>, paths: &[PathBuf]) -> OsvTally {
    let mut tally = OsvTally::default();
    let mut batch: Vec<Value> = Vec::with_capacity(BATCH);
    for path in paths {
        let name = path.display().to_string();
        let result = if path.is_dir() {
            read_directory(path, &mut |entry, bytes| {
                accept(&mut tally, &mut batch, entry, bytes)
            })
        } else {
            read_zip(path, &mut |entry, bytes| {
                accept(&mut tally, &mut batch, entry, bytes)
            })
        };
        // Batches are posted between sources and as they fill; reading is
        // synchronous, so they are gathered per source and sent here.
        if let Err(err) = result {
            tally.failed.push(format!("{name}: {err}"));
            continue;
        }
        while !batch.is_empty() {
            let take = batch.len().min(BATCH);
            let chunk: Vec<Value> = batch.drain(..take).collect();
            post_batch(poster, &mut tally, chunk).await;
            (poster.progress)(
                tally.records - batch.len(),
                tally.records,
                &format!(
                    "{name}: {} new, {} updated, {} unchanged, {} refused",
                    tally.new,
                    tally.updated,
                    tally.unchanged,
                    tally.refused.len()
                ),
            );
        }
    }
    tally
}

/// Checks one record and queues it; a record that does not parse is
/// refused.
fn accept(tally: &mut OsvTally, batch: &mut Vec<Value>, entry: &str, bytes: &[u8]) {
    let values = json_values(bytes).unwrap_or_default();
    let checked = match recognize(&values) {
        Some(Format::Osv) => parse_as(Format::Osv, &values).map_err(|err| err.to_string()),
        _ => Err("not an OSV record".to_string()),
    };
    match (checked, values.into_iter().next()) {
        (Ok(_), Some(Value::Array(records))) => {
            tally.records += records.len();
            batch.extend(records);
        }
        (Ok(_), Some(record)) => {
            tally.records += 1;
            batch.push(record);
        }
        (Err(problem), _) => {
            let problem = if bytes.is_empty() {
                format!("empty, or larger than {MAX_RECORD_BYTES} bytes")
            } else {
                problem
            };
            tally.refused.push(format!("{entry}: {problem}"));
        }
        (Ok(_), None) => tally.refused.push(format!("{entry}: empty")),
    }
}

async fn post_batch(poster: &Poster<'_>, tally: &mut OsvTally, chunk: Vec<Value>) {
    let count = chunk.len();
    let outcome = async {
        let response = poster
            .client
            .post(poster.url)
            .json(&Value::Array(chunk))
            .send()
            .await
            .map_err(|err| format!("cannot reach {}: {err}", poster.url))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|err| format!("HTTP {status}, answer is not JSON: {err}"))?;
        if !status.is_success() {
            return Err(format!(
                "HTTP {status}: {}",
                answer["error"].as_str().unwrap_or("no reason given")
            ));
        }
        Ok(answer)
    }
    .await;
    match outcome {
        Ok(answer) => {
            tally.new += answer["recordsNew"].as_u64().unwrap_or(0);
            tally.updated += answer["recordsUpdated"].as_u64().unwrap_or(0);
            tally.unchanged += answer["recordsUnchanged"].as_u64().unwrap_or(0);
        }
        Err(reason) => tally
            .failed
            .push(format!("a batch of {count} record(s): {reason}")),
    }
}

/// Every `*.json` file under `dir`, by path.
fn read_directory(dir: &Path, each: &mut dyn FnMut(&str, &[u8])) -> Result<(), String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let entries = std::fs::read_dir(&at).map_err(|err| format!("{}: {err}", at.display()))?;
        for entry in entries {
            let path = entry.map_err(|err| err.to_string())?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !is_index(&path.strip_prefix(dir).unwrap_or(&path).to_string_lossy())
            {
                files.push(path);
            }
        }
    }
    files.sort();
    for file in files {
        let name = file.display().to_string();
        match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > MAX_RECORD_BYTES => {
                each(&name, b"");
                continue;
            }
            _ => {}
        }
        let bytes = std::fs::read(&file).map_err(|err| format!("{name}: {err}"))?;
        each(&name, &bytes);
    }
    Ok(())
}

/// Every `*.json` entry of a zip export, in archive order.
fn read_zip(path: &Path, each: &mut dyn FnMut(&str, &[u8])) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|err| err.to_string())?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|err| format!("not a zip archive: {err}"))?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| format!("entry {index}: {err}"))?;
        let name = entry.name().to_string();
        if !entry.is_file() || !name.ends_with(".json") || is_index(&name) {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| format!("{name}: {err}"))?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            bytes.clear();
        }
        each(&name, &bytes);
    }
    Ok(())
}
