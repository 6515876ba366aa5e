//! The lineage load: `--query-clients` clients, each on its own keep-alive
//! HTTP connection, POST GraphQL `lineage` queries to `/graphql` for a fixed
//! time: upstream from random image digests, downstream from random commits
//! and go.mod hashes, all of builds that were ingested. Every answer is
//! checked (no `errors`, at least the node count the graph must give).

use crate::progress::Progress;
use crate::workload::{Keys, splitmix64};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The kinds of lineage query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// ARTIFACT, UPSTREAM: artifact, build, commit, repository, go.mod.
    ArtifactUpstream,
    /// COMMIT, DOWNSTREAM: commit, build, artifact.
    CommitDownstream,
    /// GOMOD, DOWNSTREAM: go.mod, build, artifact.
    GomodDownstream,
    /// The first page (100) of the images built from the hub repository:
    /// `lineagePage(kind: REPOSITORY, direction: DOWNSTREAM, kinds: [ARTIFACT])`.
    HubFirstPage,
    /// `vulnerability(id)` by an alias (asked in lower case), with the
    /// digests of the images it affects: at least `images` of them.
    Vulnerability { alias: &'static str, images: u64 },
}

/// The hub query, asked in a round of its own.
pub const HUB_KINDS: [QueryKind; 1] = [QueryKind::HubFirstPage];

/// Every kind, in report order.
pub const KINDS: [QueryKind; 3] = [
    QueryKind::ArtifactUpstream,
    QueryKind::CommitDownstream,
    QueryKind::GomodDownstream,
];

impl QueryKind {
    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            QueryKind::ArtifactUpstream => "lineage UPSTREAM from an artifact digest",
            QueryKind::CommitDownstream => "lineage DOWNSTREAM from a commit",
            QueryKind::GomodDownstream => "lineage DOWNSTREAM from a go.mod hash",
            QueryKind::HubFirstPage => {
                "lineagePage DOWNSTREAM from the hub repository, ARTIFACT, first 100"
            }
            QueryKind::Vulnerability { .. } => {
                "vulnerability(id) by CVE alias, with the digests of the images it affects"
            }
        }
    }

    /// Nodes the answer must hold at least.
    pub fn expected_nodes(self) -> usize {
        match self {
            QueryKind::ArtifactUpstream => 5,
            QueryKind::CommitDownstream | QueryKind::GomodDownstream => 3,
            QueryKind::HubFirstPage => 100,
            QueryKind::Vulnerability { images, .. } => images as usize,
        }
    }

    /// Where the answer's list of nodes is.
    fn pointer(self) -> &'static str {
        match self {
            QueryKind::HubFirstPage => "/data/lineagePage/edges",
            QueryKind::Vulnerability { .. } => "/data/vulnerability/artifacts",
            _ => "/data/lineage/nodes",
        }
    }

    /// The GraphQL query for adversarial build `i`.
    pub fn query(self, keys: &Keys, i: u64) -> String {
        let (kind, key, direction) = match self {
            QueryKind::HubFirstPage => {
                return format!(
                    "{{ lineagePage(kind: REPOSITORY, key: \"{}\", direction: DOWNSTREAM, kinds: [ARTIFACT], first: 100) \
                     {{ edges {{ cursor depth node {{ kind key }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
                    Keys::HUB_REPO
                );
            }
            QueryKind::Vulnerability { alias, .. } => {
                return format!(
                    "{{ vulnerability(id: \"{}\") {{ id artifacts {{ digest }} }} }}",
                    alias.to_ascii_lowercase()
                );
            }
            QueryKind::ArtifactUpstream => ("ARTIFACT", keys.adv_digest(i), "UPSTREAM"),
            QueryKind::CommitDownstream => ("COMMIT", keys.adv_commit(i), "DOWNSTREAM"),
            QueryKind::GomodDownstream => (
                "GOMOD",
                format!("sha256:{}", keys.adv_gomod(i)),
                "DOWNSTREAM",
            ),
        };
        format!(
            "{{ lineage(kind: {kind}, key: \"{key}\", direction: {direction}) {{ nodes {{ kind key }} edges {{ kind }} }} }}"
        )
    }
}

/// What one kind of query did.
#[derive(Debug, Default)]
pub struct KindReport {
    /// Latencies of answered queries, µs.
    pub latency_us: Vec<u64>,
    /// Answers with `errors` or a non-200 status, or transport failures.
    pub errors: u64,
    /// Answers with fewer nodes than the graph holds.
    pub short: u64,
}

/// What the query phase did.
#[derive(Debug, Default)]
pub struct QueryReport {
    /// Wall time.
    pub elapsed: Duration,
    /// The kinds asked, in turn.
    pub asked: Vec<QueryKind>,
    /// Per kind, in `asked` order.
    pub kinds: Vec<KindReport>,
    /// The first few problems seen.
    pub messages: Vec<String>,
}

/// Outcome of one query.
enum Checked {
    Ok,
    Short(String),
    Error(String),
}

async fn one(
    client: &reqwest::Client,
    url: &str,
    query: String,
    expected: usize,
    pointer: &str,
) -> Checked {
    let body = serde_json::json!({ "query": query });
    let response = match client.post(url).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return Checked::Error(format!("POST /graphql failed: {e}")),
    };
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Checked::Error(format!("POST /graphql: body unreadable: {e}")),
    };
    if !status.is_success() {
        return Checked::Error(format!(
            "POST /graphql answered {status}: {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Checked::Error(format!("POST /graphql answered invalid JSON: {e}")),
    };
    if let Some(errors) = value.get("errors") {
        return Checked::Error(format!(
            "GraphQL errors: {}",
            errors.to_string().chars().take(300).collect::<String>()
        ));
    }
    let nodes = value
        .pointer(pointer)
        .and_then(|n| n.as_array())
        .map(|n| n.len());
    match nodes {
        Some(n) if n >= expected => Checked::Ok,
        Some(n) => Checked::Short(format!("{n} nodes, expected at least {expected}: {query}")),
        None => Checked::Error(format!(
            "answer without {pointer}: {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>()
        )),
    }
}

/// Asks one lineage query and checks it; for sanity checks outside the load.
pub async fn check_one(api: SocketAddr, query: String, expected: usize) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    match one(
        &client,
        &format!("http://{api}/graphql"),
        query,
        expected,
        "/data/lineage/nodes",
    )
    .await
    {
        Checked::Ok => Ok(()),
        Checked::Short(m) | Checked::Error(m) => Err(m),
    }
}

/// Runs `clients` query clients against `api` for `seconds`, picking builds
/// in `0..builds` at random and `asked` kinds in turn.
pub async fn run(
    api: SocketAddr,
    asked: &'static [QueryKind],
    keys: Keys,
    builds: u64,
    clients: usize,
    seconds: f64,
    progress: Arc<Progress>,
) -> Result<QueryReport, String> {
    let url = format!("http://{api}/graphql");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds.max(0.1));
    let mut tasks = Vec::new();
    for c in 0..clients.max(1) {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let url = url.clone();
        let progress = Arc::clone(&progress);
        tasks.push(tokio::spawn(async move {
            let mut kinds: Vec<KindReport> = asked.iter().map(|_| KindReport::default()).collect();
            let mut messages = Vec::new();
            let mut rng = splitmix64(0xC0FFEE ^ c as u64);
            let mut n = c;
            while Instant::now() < deadline {
                let k = n % asked.len();
                n += 1;
                rng = splitmix64(rng);
                let i = rng % builds.max(1);
                let kind = asked[k];
                let t = Instant::now();
                let checked = one(
                    &client,
                    &url,
                    kind.query(&keys, i),
                    kind.expected_nodes(),
                    kind.pointer(),
                )
                .await;
                let us = t.elapsed().as_micros() as u64;
                progress.done.fetch_add(1, Ordering::Relaxed);
                match checked {
                    Checked::Ok => kinds[k].latency_us.push(us),
                    Checked::Short(m) => {
                        kinds[k].latency_us.push(us);
                        kinds[k].short += 1;
                        if messages.len() < 3 {
                            messages.push(m);
                        }
                    }
                    Checked::Error(m) => {
                        kinds[k].errors += 1;
                        if messages.len() < 3 {
                            messages.push(m);
                        }
                    }
                }
            }
            (kinds, messages)
        }));
    }
    let mut report = QueryReport {
        asked: asked.to_vec(),
        kinds: asked.iter().map(|_| KindReport::default()).collect(),
        ..QueryReport::default()
    };
    for task in tasks {
        let (kinds, messages) = task
            .await
            .map_err(|e| format!("a query task failed: {e}"))?;
        for (into, from) in report.kinds.iter_mut().zip(kinds) {
            into.latency_us.extend(from.latency_us);
            into.errors += from.errors;
            into.short += from.short;
        }
        for m in messages {
            if report.messages.len() < 6 && !report.messages.contains(&m) {
                report.messages.push(m);
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One counter or gauge from the server's `/metrics`.
pub async fn metric(api: SocketAddr, name: &str) -> Result<u64, String> {
    let text = reqwest::get(format!("http://{api}/metrics"))
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?
        .text()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("{name} is not in /metrics"))
}
