//! The GraphQL schema: `node` and `lineage` (the contract's core), typed entry
//! points (`artifact`, `commit`, `build`, `repository`, `goMod`, `workload`),
//! and edges with the evidence behind them.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Error, Object, Result, Schema, SimpleObject,
};
use provgraph_model::{EdgeKind as ModelEdgeKind, NodeKind as ModelNodeKind};
use provgraph_store::{
    EdgeRow, EvidenceRow, LineageLimits, NodeRow, SignatureRow, Store, StoreError,
};

use crate::ApiLimits;
use crate::time::rfc3339;

/// The schema type served at /graphql.
pub type ProvSchema = Schema<Query, EmptyMutation, EmptySubscription>;

struct Api {
    store: Store,
    limits: ApiLimits,
}

fn api<'a>(ctx: &Context<'a>) -> &'a Api {
    ctx.data_unchecked::<Api>()
}

fn store_error(err: StoreError) -> Error {
    Error::new(err.to_string())
}

/// Builds the schema over `store`, and starts loading its lineage index.
pub fn build_schema(store: Store, limits: ApiLimits) -> ProvSchema {
    store.start_lineage_index();
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .data(Api { store, limits })
        .finish()
}

/// The SDL of the schema.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}

/// The kinds of node.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "provgraph_model::NodeKind")]
pub enum NodeKind {
    /// A source repository; key: host and path, lower-case (`github.com/acme/calc`).
    Repository,
    /// A commit; key: the SHA in lower-case hex.
    Commit,
    /// A go.mod file by content; key: `sha256:` and 64 hex digits.
    Gomod,
    /// A CI build (pipeline run); key: the build id as given, else the trace id.
    Build,
    /// An image or other artifact; key: its digest, `sha256:` and 64 hex digits.
    Artifact,
    /// A running workload; key: `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    Workload,
    /// A signature over an artifact; key: `sha256:` and the hex SHA-256 of the evidence (canonical JSON).
    Signature,
    /// A signed in-toto statement (DSSE); key as for a signature.
    Attestation,
    /// A signer; key: `ISSUER|SUBJECT` (keyless) or `key:NAME` (a trust-policy key).
    Identity,
    /// A Go module version a go.mod requires or an SBOM lists; key: `PATH@VERSION`.
    Module,
    /// A package other than a Go module that an SBOM lists; key: its purl.
    Package,
}

/// Which way `lineage` walks.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward what a node was made from: artifact -> build -> commit -> repository, go.mod.
    Upstream,
    /// Toward what was made from a node: commit -> builds -> artifacts -> workloads.
    Downstream,
}

/// The kinds of edge; each points from what was made to what it was made from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "provgraph_model::EdgeKind")]
pub enum EdgeKind {
    /// ARTIFACT -> BUILD: the build produced the artifact.
    BuiltBy,
    /// BUILD -> COMMIT: the build built the commit.
    FromCommit,
    /// BUILD -> REPOSITORY: the build built from the repository.
    FromRepository,
    /// COMMIT -> REPOSITORY: the commit is in the repository.
    InRepository,
    /// BUILD -> GOMOD: the build used the go.mod.
    UsedGomod,
    /// BUILD -> ARTIFACT: the build ran in this (builder) image.
    BuiltWith,
    /// WORKLOAD -> ARTIFACT: the workload runs the image.
    Runs,
    /// SIGNATURE or ATTESTATION -> ARTIFACT: it signs the artifact (verified or not).
    Signs,
    /// SIGNATURE or ATTESTATION -> IDENTITY: who signed it.
    SignedBy,
    /// ARTIFACT (platform manifest) -> ARTIFACT (the image index listing it).
    PartOf,
    /// GOMOD -> MODULE: a direct requirement.
    Requires,
    /// GOMOD -> MODULE: an indirect requirement.
    RequiresIndirect,
    /// ARTIFACT -> MODULE or PACKAGE: an SBOM of the artifact lists it.
    Contains,
}

/// How an edge is known.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// An OpenTelemetry span said so: an unsigned claim by whoever sent it.
    Claimed,
    /// An unsigned SBOM posted to /v1/evidence said so (`traceId` is
    /// `sbom:sha256:<hex>` of the document, `sender` the tool that wrote it).
    Sbom,
}

/// What an edge rests on.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Only spans say so: unsigned claims.
    Claimed,
    /// Only verified signatures or attestations say so.
    Proven,
    /// Both: a span claims it and verified evidence proves it.
    Both,
    /// Only evidence that did not verify says so (kept for auditors).
    Unverified,
}

/// Where a proof's statement came from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofOrigin {
    /// The signing certificate's extensions (authenticated by the CA).
    Certificate,
    /// An attestation's SLSA provenance predicate (asserted by the signer).
    SlsaPredicate,
    /// A build id among a verified signature's signed annotations.
    Annotation,
    /// An SBOM that is the predicate of a verified attestation.
    SbomPredicate,
    /// The signature itself: it names this artifact and this signer.
    Stated,
}

fn proof_origin(origin: Option<provgraph_model::proofs::ProofOrigin>) -> ProofOrigin {
    use provgraph_model::proofs::ProofOrigin as Model;
    match origin {
        Some(Model::Certificate) => ProofOrigin::Certificate,
        Some(Model::SlsaPredicate) => ProofOrigin::SlsaPredicate,
        Some(Model::Annotation) => ProofOrigin::Annotation,
        Some(Model::SbomPredicate) => ProofOrigin::SbomPredicate,
        None => ProofOrigin::Stated,
    }
}

/// A signature or attestation, as verified when it was imported (and again
/// when the server starts, against the current trust policy).
#[derive(Clone, Debug)]
pub struct Signature {
    row: SignatureRow,
    details: serde_json::Value,
}

impl Signature {
    fn new(row: SignatureRow) -> Signature {
        let details = serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null);
        Signature { row, details }
    }

    fn detail(&self, pointer: &str) -> Option<String> {
        self.details
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

#[Object]
impl Signature {
    /// Cryptographically valid for this artifact (with its log entry or
    /// timestamp where present; a certificate checked at signing time).
    async fn verified(&self) -> bool {
        self.row.verified
    }

    /// Verified, and the signer is allowed by the trust policy.
    async fn trusted(&self) -> bool {
        self.row.trusted
    }

    /// The certificate's identity (SAN), or the trust-policy name of the key.
    async fn signer(&self) -> Option<&str> {
        self.row.signer.as_deref()
    }

    /// The certificate's OIDC issuer.
    async fn issuer(&self) -> Option<&str> {
        self.row.issuer.as_deref()
    }

    /// Why it is not verified or not trusted, or what verified it.
    async fn reason(&self) -> Option<&str> {
        Some(self.row.reason.as_str())
    }

    /// The artifact it is for.
    async fn subject(&self) -> &str {
        &self.row.subject
    }

    /// The evidence's id: hex SHA-256 of its canonical JSON.
    async fn evidence_id(&self) -> &str {
        &self.row.evidence_id
    }

    /// SIGSTORE_BUNDLE, COSIGN_SIGNATURE_LAYER or COSIGN_ATTESTATION_LAYER.
    async fn format(&self) -> &str {
        &self.row.format
    }

    /// KEYLESS_CERTIFICATE, PUBLIC_KEY or PUBLIC_KEY_NO_LOG (a key-only
    /// signature with no transparency-log entry).
    async fn method(&self) -> &str {
        &self.row.method
    }

    /// The in-toto predicate type, for attestations.
    async fn predicate_type(&self) -> Option<&str> {
        self.row.predicate_type.as_deref()
    }

    /// Its transparency-log index.
    async fn log_index(&self) -> Option<String> {
        self.row.log_index.map(|i| i.to_string())
    }

    /// When the log integrated it (RFC 3339, UTC).
    async fn integrated_time(&self) -> Option<String> {
        self.row
            .integrated_time
            .map(|t| rfc3339(t.saturating_mul(1000)))
    }

    /// What the verified certificate says: source repository (OID .12).
    async fn source_repository(&self) -> Option<String> {
        self.detail("/certificate/source_repository_uri")
            .or_else(|| self.detail("/slsa/source_repository"))
    }

    /// Source commit (certificate OID .13, else the SLSA predicate).
    async fn source_commit(&self) -> Option<String> {
        self.detail("/certificate/source_repository_digest")
            .or_else(|| self.detail("/slsa/source_commit"))
    }

    /// The CI run that signed (certificate OID .21, else the SLSA invocation id).
    async fn run_invocation(&self) -> Option<String> {
        self.detail("/certificate/run_invocation_uri")
            .or_else(|| self.detail("/slsa/invocation_id"))
    }

    /// The SLSA builder id, for provenance attestations.
    async fn builder_id(&self) -> Option<String> {
        self.detail("/slsa/builder_id")
    }

    /// When provgraph first received it (RFC 3339, UTC).
    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }
}

/// A signature's support for an edge.
#[derive(SimpleObject, Clone, Debug)]
pub struct Proof {
    pub origin: ProofOrigin,
    pub signature: Signature,
}

/// A name and value attached to a node (a node may carry several values of
/// one name, such as several tags).
#[derive(SimpleObject, Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

/// One assertion of an edge.
#[derive(SimpleObject, Clone, Debug)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The trace that asserted it (32 hex digits).
    pub trace_id: String,
    /// The ingest token (its name) that sent it, when ingest is
    /// authenticated; null for what arrived unauthenticated.
    pub principal: Option<String>,
    /// The span that asserted it, or null when the trace as a whole did
    /// (a process's resource naming the image it runs in).
    pub span_id: Option<String>,
    /// `service.name` of the sender.
    pub sender: String,
    /// When provgraph first and last received it (RFC 3339, UTC).
    pub first_seen: String,
    pub last_seen: String,
}

impl From<EvidenceRow> for Evidence {
    fn from(row: EvidenceRow) -> Evidence {
        let (principal, trace_id) = provgraph_model::principal::split_scoped(&row.trace_id);
        Evidence {
            kind: if trace_id.starts_with("sbom:") {
                EvidenceKind::Sbom
            } else {
                EvidenceKind::Claimed
            },
            principal: principal.map(str::to_string),
            trace_id: trace_id.to_string(),
            span_id: (!row.span_id.is_empty()).then_some(row.span_id),
            sender: row.sender,
            first_seen: rfc3339(row.first_seen),
            last_seen: rfc3339(row.last_seen),
        }
    }
}

/// A node of the provenance graph.
#[derive(Clone, Debug)]
pub struct Node {
    row: NodeRow,
    /// Attributes, when loaded with the rest of an answer.
    attributes: Option<Arc<Vec<Attribute>>>,
}

impl Node {
    fn new(row: NodeRow) -> Node {
        Node {
            row,
            attributes: None,
        }
    }
}

#[Object]
impl Node {
    async fn kind(&self) -> NodeKind {
        self.row.kind.into()
    }

    /// The normalized key (see NodeKind for each kind's form).
    async fn key(&self) -> &str {
        &self.row.key
    }

    /// When provgraph first and last received a fact naming this node
    /// (RFC 3339, UTC); for a workload, lastSeen is when it was last seen
    /// running.
    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }

    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// Attributes: pipeline name and branch of a build, names and tags of
    /// an image, namespace and environment of a workload.
    async fn attributes(&self, ctx: &Context<'_>) -> Result<Vec<Attribute>> {
        if let Some(attributes) = &self.attributes {
            return Ok(attributes.as_ref().clone());
        }
        let rows = api(ctx)
            .store
            .attributes(&[self.row.id])
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|row| Attribute {
                name: row.name,
                value: row.value,
            })
            .collect())
    }
}

/// An edge, from what was made to what it was made from.
#[derive(Clone, Debug)]
pub struct Edge {
    row: EdgeRow,
    from: Node,
    to: Node,
    evidence: Option<Arc<Vec<Evidence>>>,
    proofs: Arc<Vec<Proof>>,
}

#[Object]
impl Edge {
    async fn kind(&self) -> EdgeKind {
        self.row.kind.into()
    }

    async fn from(&self) -> &Node {
        &self.from
    }

    async fn to(&self) -> &Node {
        &self.to
    }

    async fn first_seen(&self) -> String {
        rfc3339(self.row.first_seen)
    }

    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// Who asserted this edge, oldest first: says who, and how.
    async fn evidence(&self, ctx: &Context<'_>) -> Result<Vec<Evidence>> {
        if let Some(evidence) = &self.evidence {
            return Ok(evidence.as_ref().clone());
        }
        let rows = api(ctx)
            .store
            .evidence(&[self.row.id])
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Evidence::from).collect())
    }

    /// Signatures and attestations that prove (or, failing verification,
    /// merely state) this edge.
    async fn proofs(&self) -> &[Proof] {
        &self.proofs
    }

    /// Claimed by spans, proven by verified evidence, or both. PART_OF is
    /// always PROVEN: the index's digest binds the list of its manifests.
    async fn support(&self, ctx: &Context<'_>) -> Result<Support> {
        if self.row.kind == ModelEdgeKind::PartOf {
            return Ok(Support::Proven);
        }
        let claimed = match &self.evidence {
            Some(evidence) => !evidence.is_empty(),
            None => !api(ctx)
                .store
                .evidence(&[self.row.id])
                .await
                .map_err(store_error)?
                .is_empty(),
        };
        let proven = self.proofs.iter().any(|p| p.signature.row.verified);
        Ok(match (claimed, proven) {
            (true, true) => Support::Both,
            (false, true) => Support::Proven,
            (true, false) => Support::Claimed,
            (false, false) => Support::Unverified,
        })
    }
}

/// A lineage answer.
#[derive(SimpleObject, Clone, Debug)]
pub struct Subgraph {
    /// The start node first, then the others by distance from it.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// True when the answer was cut at the node limit; ask from a node
    /// further along, or with a smaller maxDepth.
    pub truncated: bool,
}

async fn proofs_by_edge(api: &Api, edges: &[EdgeRow]) -> Result<HashMap<i64, Vec<Proof>>> {
    let ids: Vec<i64> = edges.iter().map(|e| e.id).collect();
    let mut out: HashMap<i64, Vec<Proof>> = HashMap::new();
    for proof in api.store.proofs(&ids).await.map_err(store_error)? {
        out.entry(proof.edge_id).or_default().push(Proof {
            origin: proof_origin(proof.origin),
            signature: Signature::new(proof.signature),
        });
    }
    Ok(out)
}

fn normalize(kind: ModelNodeKind, raw: &str) -> Result<String> {
    kind.normalize(raw)
        .map_err(|err| Error::new(err.to_string()))
}

async fn find(ctx: &Context<'_>, kind: ModelNodeKind, raw: &str) -> Result<Option<NodeRow>> {
    let key = normalize(kind, raw)?;
    api(ctx).store.node(kind, &key).await.map_err(store_error)
}

/// The nodes one hop from `ids`: along edges (`outgoing`) or against them.
async fn hop(
    ctx: &Context<'_>,
    ids: &[i64],
    outgoing: bool,
    kinds: &[ModelEdgeKind],
) -> Result<Vec<NodeRow>> {
    let api = api(ctx);
    let limit = api.limits.max_list as i64;
    let direction = if outgoing {
        provgraph_store::Direction::Upstream
    } else {
        provgraph_store::Direction::Downstream
    };
    let edges = api
        .store
        .edges(ids, direction, kinds, 0, limit)
        .await
        .map_err(store_error)?;
    let mut seen = std::collections::HashSet::with_capacity(edges.len());
    let mut others: Vec<i64> = Vec::with_capacity(edges.len());
    for edge in edges {
        let other = if outgoing { edge.to_id } else { edge.from_id };
        if seen.insert(other) {
            others.push(other);
        }
    }
    let mut nodes = api.store.nodes(&others).await.map_err(store_error)?;
    nodes.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(nodes)
}

/// As [`hop`], as typed objects.
async fn hop_to<T: From<NodeRow>>(
    ctx: &Context<'_>,
    ids: &[i64],
    outgoing: bool,
    kinds: &[ModelEdgeKind],
) -> Result<Vec<T>> {
    Ok(hop(ctx, ids, outgoing, kinds)
        .await?
        .into_iter()
        .map(T::from)
        .collect())
}

async fn attribute_values(ctx: &Context<'_>, id: i64, name: &str) -> Result<Vec<String>> {
    let rows = api(ctx)
        .store
        .attributes(&[id])
        .await
        .map_err(store_error)?;
    Ok(rows
        .into_iter()
        .filter(|row| row.name == name)
        .map(|row| row.value)
        .collect())
}

fn ids(rows: &[NodeRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

use ModelEdgeKind as E;

/// An artifact (an image, by digest) with what it was built from and what
/// runs it.
#[derive(Clone, Debug)]
pub struct Artifact {
    row: NodeRow,
}

impl From<NodeRow> for Artifact {
    fn from(row: NodeRow) -> Artifact {
        Artifact { row }
    }
}

#[Object]
impl Artifact {
    /// `sha256:` and 64 hex digits.
    async fn digest(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// Repository names it was pushed as.
    async fn names(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.name").await
    }

    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "container.image.tags").await
    }

    /// The builds that produced it.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], true, &[E::BuiltBy]).await
    }

    /// The commits its builds built.
    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&builds), true, &[E::FromCommit]).await
    }

    /// The repositories its builds built from.
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        let mut repos = hop(ctx, &ids(&builds), true, &[E::FromRepository]).await?;
        let commits = hop(ctx, &ids(&builds), true, &[E::FromCommit]).await?;
        for repo in hop(ctx, &ids(&commits), true, &[E::InRepository]).await? {
            if !repos.iter().any(|r| r.id == repo.id) {
                repos.push(repo);
            }
        }
        Ok(repos.into_iter().map(|row| Repository { row }).collect())
    }

    /// The go.mod files its builds used.
    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&builds), true, &[E::UsedGomod]).await
    }

    /// The workloads seen running it.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        hop_to(ctx, &[self.row.id], false, &[E::Runs]).await
    }

    /// Every signature and attestation stored for this digest, each listed
    /// separately, verified or not.
    async fn signatures(&self, ctx: &Context<'_>) -> Result<Vec<Signature>> {
        let rows = api(ctx)
            .store
            .signatures(&self.row.key)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Signature::new).collect())
    }

    /// Go modules an SBOM of this image lists (`PATH@VERSION`).
    async fn sbom_modules(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        contained(ctx, self.row.id, ModelNodeKind::Module).await
    }

    /// Other packages an SBOM of this image lists (purls).
    async fn sbom_packages(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        contained(ctx, self.row.id, ModelNodeKind::Package).await
    }

    /// Go modules whose version in the image's SBOM differs from the one the
    /// go.mod of its build requires: the SBOM and the build disagree.
    async fn go_module_mismatches(&self, ctx: &Context<'_>) -> Result<Vec<ModuleMismatch>> {
        let in_sbom = contained(ctx, self.row.id, ModelNodeKind::Module).await?;
        let builds = hop(ctx, &[self.row.id], true, &[E::BuiltBy]).await?;
        let gomods = hop(ctx, &ids(&builds), true, &[E::UsedGomod]).await?;
        let required = hop(
            ctx,
            &ids(&gomods),
            true,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?;
        let split = |key: &str| {
            key.rsplit_once('@')
                .map(|(p, v)| (p.to_string(), v.to_string()))
        };
        let mut out = Vec::new();
        for (path, sbom_version) in in_sbom.iter().filter_map(|k| split(k)) {
            let go_mod_versions: Vec<String> = required
                .iter()
                .filter_map(|r| split(&r.key))
                .filter(|(p, _)| *p == path)
                .map(|(_, v)| v)
                .collect();
            if !go_mod_versions.is_empty() && !go_mod_versions.contains(&sbom_version) {
                out.push(ModuleMismatch {
                    path,
                    sbom_version,
                    go_mod_versions,
                });
            }
        }
        Ok(out)
    }

    /// Image indexes (multi-arch) that list this manifest.
    async fn indexes(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::PartOf]).await
    }

    /// The platform manifests this index lists.
    async fn platforms(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], false, &[E::PartOf]).await
    }

    /// The platform (`os/arch[/variant]`) an index lists this manifest for.
    async fn platform(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let indexes = api(ctx)
            .store
            .indexes_of(&self.row.key)
            .await
            .map_err(store_error)?;
        Ok(indexes.into_iter().find_map(|listing| listing.platform))
    }

    /// Builds that ran inside this image (it was their builder).
    async fn builder_of(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::BuiltWith]).await
    }
}

/// A CI build (one pipeline run).
#[derive(Clone, Debug)]
pub struct Build {
    row: NodeRow,
}

impl From<NodeRow> for Build {
    fn from(row: NodeRow) -> Build {
        Build { row }
    }
}

#[Object]
impl Build {
    /// The build id (`cicd.pipeline.run.id`, `build.id`, else the trace id).
    async fn id(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// `cicd.pipeline.name` values seen for this build.
    async fn pipelines(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "cicd.pipeline.name").await
    }

    /// Branches (`vcs.ref.head.name`) seen for this build.
    async fn branches(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        attribute_values(ctx, self.row.id, "vcs.ref.head.name").await
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        hop_to(ctx, &[self.row.id], true, &[E::FromCommit]).await
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        hop_to(ctx, &[self.row.id], true, &[E::FromRepository]).await
    }

    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        hop_to(ctx, &[self.row.id], true, &[E::UsedGomod]).await
    }

    /// The artifacts it produced.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], false, &[E::BuiltBy]).await
    }

    /// The images it ran in (inputs, not outputs).
    async fn builder_images(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::BuiltWith]).await
    }
}

/// A commit.
#[derive(Clone, Debug)]
pub struct Commit {
    row: NodeRow,
}

impl From<NodeRow> for Commit {
    fn from(row: NodeRow) -> Commit {
        Commit { row }
    }
}

#[Object]
impl Commit {
    async fn sha(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        hop_to(ctx, &[self.row.id], true, &[E::InRepository]).await
    }

    /// Builds of this commit.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::FromCommit]).await
    }

    /// Artifacts built from this commit.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        hop_to(ctx, &ids(&builds), false, &[E::BuiltBy]).await
    }

    /// Workloads running an artifact built from this commit.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::FromCommit]).await?;
        let artifacts = hop(ctx, &ids(&builds), false, &[E::BuiltBy]).await?;
        hop_to(ctx, &ids(&artifacts), false, &[E::Runs]).await
    }
}

/// A source repository.
#[derive(Clone, Debug)]
pub struct Repository {
    row: NodeRow,
}

impl From<NodeRow> for Repository {
    fn from(row: NodeRow) -> Repository {
        Repository { row }
    }
}

#[Object]
impl Repository {
    /// Host and path, lower-case: `github.com/acme/calc`.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn commits(&self, ctx: &Context<'_>) -> Result<Vec<Commit>> {
        hop_to(ctx, &[self.row.id], false, &[E::InRepository]).await
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::FromRepository]).await
    }
}

/// A go.mod file, by the SHA-256 of its content.
#[derive(Clone, Debug)]
pub struct GoMod {
    row: NodeRow,
}

impl From<NodeRow> for GoMod {
    fn from(row: NodeRow) -> GoMod {
        GoMod { row }
    }
}

#[Object]
impl GoMod {
    /// `sha256:` and 64 hex digits.
    async fn hash(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        hop_to(ctx, &[self.row.id], false, &[E::UsedGomod]).await
    }

    /// The module path of the go.mod (`go.module.path`).
    async fn module_path(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(attribute_values(ctx, self.row.id, "go.module.path")
            .await?
            .into_iter()
            .next())
    }

    /// The module versions it requires (`PATH@VERSION`), direct first.
    async fn requires(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let mut direct: Vec<String> = hop(ctx, &[self.row.id], true, &[E::Requires])
            .await?
            .into_iter()
            .map(|r| r.key)
            .collect();
        let indirect = hop(ctx, &[self.row.id], true, &[E::RequiresIndirect]).await?;
        direct.extend(indirect.into_iter().map(|r| r.key));
        Ok(direct)
    }

    /// Artifacts built with this go.mod.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        let builds = hop(ctx, &[self.row.id], false, &[E::UsedGomod]).await?;
        hop_to(ctx, &ids(&builds), false, &[E::BuiltBy]).await
    }
}

/// A Go module whose version in an image's SBOM and in its build's go.mod differ.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModuleMismatch {
    pub path: String,
    pub sbom_version: String,
    pub go_mod_versions: Vec<String>,
}

async fn contained(ctx: &Context<'_>, artifact: i64, kind: ModelNodeKind) -> Result<Vec<String>> {
    Ok(hop(ctx, &[artifact], true, &[E::Contains])
        .await?
        .into_iter()
        .filter(|row| row.kind == kind)
        .map(|row| row.key)
        .collect())
}

/// A Go module and the versions of it the graph knows.
#[derive(SimpleObject, Clone, Debug)]
pub struct ModuleUsage {
    /// The module path.
    pub path: String,
    /// Versions in use, by version text.
    pub versions: Vec<ModuleVersion>,
}

/// One version of a Go module, and what uses it.
#[derive(Clone, Debug)]
pub struct ModuleVersion {
    row: NodeRow,
}

impl From<NodeRow> for ModuleVersion {
    fn from(row: NodeRow) -> ModuleVersion {
        ModuleVersion { row }
    }
}

#[Object]
impl ModuleVersion {
    /// `PATH@VERSION`.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn version(&self) -> &str {
        self.row.key.rsplit_once('@').map_or("", |(_, v)| v)
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// The go.mod files requiring it (directly or indirectly).
    async fn go_mods(&self, ctx: &Context<'_>) -> Result<Vec<GoMod>> {
        Ok(hop(
            ctx,
            &[self.row.id],
            false,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?
        .into_iter()
        .map(|row| GoMod { row })
        .collect())
    }

    /// True when every go.mod requiring it does so only indirectly.
    async fn indirect_only(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(hop(ctx, &[self.row.id], false, &[E::Requires])
            .await?
            .is_empty())
    }

    /// Builds that used a go.mod requiring it.
    async fn builds(&self, ctx: &Context<'_>) -> Result<Vec<Build>> {
        let gomods = hop(
            ctx,
            &[self.row.id],
            false,
            &[E::Requires, E::RequiresIndirect],
        )
        .await?;
        hop_to(ctx, &ids(&gomods), false, &[E::UsedGomod]).await
    }

    /// Images those builds produced, and the platform manifests of those
    /// that are indexes.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        Ok(module_artifacts(ctx, self.row.id)
            .await?
            .into_iter()
            .map(|row| Artifact { row })
            .collect())
    }

    /// Workloads seen running one of those images.
    async fn workloads(&self, ctx: &Context<'_>) -> Result<Vec<Workload>> {
        let artifacts = module_artifacts(ctx, self.row.id).await?;
        hop_to(ctx, &ids(&artifacts), false, &[E::Runs]).await
    }
}

async fn module_artifacts(ctx: &Context<'_>, module: i64) -> Result<Vec<NodeRow>> {
    let gomods = hop(ctx, &[module], false, &[E::Requires, E::RequiresIndirect]).await?;
    let builds = hop(ctx, &ids(&gomods), false, &[E::UsedGomod]).await?;
    let mut artifacts = hop(ctx, &ids(&builds), false, &[E::BuiltBy]).await?;
    for listed in hop(ctx, &[module], false, &[E::Contains]).await? {
        if !artifacts.iter().any(|a| a.id == listed.id) {
            artifacts.push(listed);
        }
    }
    for platform in hop(ctx, &ids(&artifacts), false, &[E::PartOf]).await? {
        if !artifacts.iter().any(|a| a.id == platform.id) {
            artifacts.push(platform);
        }
    }
    Ok(artifacts)
}

/// A running workload, as its telemetry resource describes it.
#[derive(Clone, Debug)]
pub struct Workload {
    row: NodeRow,
}

impl From<NodeRow> for Workload {
    fn from(row: NodeRow) -> Workload {
        Workload { row }
    }
}

#[Object]
impl Workload {
    /// `ENVIRONMENT/NAMESPACE/NAME`, `-` for an absent part.
    async fn key(&self) -> &str {
        &self.row.key
    }

    async fn node(&self) -> Node {
        Node::new(self.row.clone())
    }

    /// When it was last seen running (RFC 3339, UTC).
    async fn last_seen(&self) -> String {
        rfc3339(self.row.last_seen)
    }

    /// The images it was seen running.
    async fn artifacts(&self, ctx: &Context<'_>) -> Result<Vec<Artifact>> {
        hop_to(ctx, &[self.row.id], true, &[E::Runs]).await
    }
}

/// The audit's overall answer.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed by a trusted signer, and no proven fact contradicts a claim.
    Trusted,
    /// Signed by a trusted signer, but proven facts contradict span claims
    /// (or each other): see `conflicts`.
    Contradicted,
    /// Signatures verify, but no signer is allowed by the trust policy.
    Untrusted,
    /// There is signature evidence, and none of it verifies.
    Forged,
    /// No signature or attestation is stored for the digest.
    Unsigned,
    /// provgraph knows nothing of the digest.
    Unknown,
}

/// Span claims and verified proofs that disagree about one fact.
#[derive(SimpleObject, Clone, Debug)]
pub struct Conflict {
    /// What the disagreement is about: BUILD, COMMIT or REPOSITORY.
    pub kind: NodeKind,
    /// What spans claim.
    pub claimed: Vec<String>,
    /// What verified evidence proves.
    pub proven: Vec<String>,
}

/// An auditor's answer for one digest: the verdict and the evidence chain
/// behind it.
#[derive(SimpleObject, Clone, Debug)]
pub struct Audit {
    pub digest: String,
    pub verdict: Verdict,
    /// One line saying why.
    pub summary: String,
    /// At least one signature verifies and its signer is trusted.
    pub signed_by_trusted_signer: bool,
    /// A verified signature from a trusted signer proves the source commit.
    pub source_proven: bool,
    /// Every commit spans claim is also proven.
    pub claims_corroborated: bool,
    pub conflicts: Vec<Conflict>,
    /// Every signature and attestation of the digest, verified or not, and
    /// of the image indexes that list it (see `signature.subject`: cosign
    /// signs only the index unless told otherwise).
    pub signatures: Vec<Signature>,
    /// Image indexes listing this digest, whose signatures and lineage
    /// count for it.
    pub covered_through_indexes: Vec<String>,
    /// What the digest was made from, each edge with its claims and proofs.
    pub chain: Subgraph,
}

/// Keys reached over edges of `kind` from `from`, through edges that are
/// claimed (`claimed`) or proven by verified (and, if `trusted`, trusted)
/// evidence.
fn reach(
    edges: &[Edge],
    claims: &HashMap<i64, bool>,
    from: &[i64],
    kind: ModelEdgeKind,
    claimed: bool,
    trusted: bool,
) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for edge in edges {
        if edge.row.kind != kind || !from.contains(&edge.row.from_id) {
            continue;
        }
        let ok = if claimed {
            claims.get(&edge.row.id).copied().unwrap_or(false)
        } else {
            edge.proofs.iter().any(|p| {
                p.origin != ProofOrigin::Stated
                    && p.signature.row.verified
                    && (!trusted || p.signature.row.trusted)
            })
        };
        if ok && !out.iter().any(|(id, _)| *id == edge.row.to_id) {
            out.push((edge.row.to_id, edge.to.row.key.clone()));
        }
    }
    out
}

fn keys_of(found: &[(i64, String)]) -> Vec<String> {
    let mut keys: Vec<String> = found.iter().map(|(_, k)| k.clone()).collect();
    keys.sort();
    keys
}

fn ids_of(found: &[(i64, String)]) -> Vec<i64> {
    found.iter().map(|(id, _)| *id).collect()
}

/// One node of a lineage page, with its distance from the start.
#[derive(SimpleObject, Clone, Debug)]
pub struct LineageNodeEdge {
    /// Opaque; pass it as `after` to read on from this node.
    pub cursor: String,
    pub node: Node,
    /// Edges from the start node.
    pub depth: i32,
}

/// Where a page stands.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// The cursor of the page's last node.
    pub end_cursor: Option<String>,
}

/// A page of a lineage walk (Relay connection style).
#[derive(SimpleObject, Clone, Debug)]
pub struct LineageConnection {
    pub edges: Vec<LineageNodeEdge>,
    pub page_info: PageInfo,
}

/// A page cursor: the (depth, node id) of the last node, hex-encoded.
/// Stable as the graph grows: a page holds the nodes after it in (depth, id)
/// order.
fn page_cursor(depth: u32, id: i64) -> String {
    hex::encode(format!("lp1:{depth}:{id}"))
}

fn parse_page_cursor(cursor: &str) -> Result<(u32, i64)> {
    let bad = || Error::new("invalid cursor: pass an endCursor or cursor this API returned");
    let text = hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(bad)?;
    let mut parts = text.strip_prefix("lp1:").ok_or_else(bad)?.splitn(2, ':');
    let depth = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let id = parts.next().and_then(|i| i.parse().ok()).ok_or_else(bad)?;
    Ok((depth, id))
}

/// The query root.
#[derive(Debug, Default)]
pub struct Query;

#[Object]
impl Query {
    /// One node, or null.
    async fn node(&self, ctx: &Context<'_>, kind: NodeKind, key: String) -> Result<Option<Node>> {
        Ok(find(ctx, kind.into(), &key).await?.map(Node::new))
    }

    /// The subgraph reachable from one node. UPSTREAM walks toward what it was made
    /// from (artifact -> build -> commit -> repository, go.mod); DOWNSTREAM walks
    /// toward what was made from it (commit -> builds -> artifacts -> workloads).
    /// maxDepth: edges to follow from the start node at most (default 16, at most 64).
    #[graphql(complexity = "10 + child_complexity * 10")]
    async fn lineage(
        &self,
        ctx: &Context<'_>,
        kind: NodeKind,
        key: String,
        direction: Direction,
        max_depth: Option<i32>,
    ) -> Result<Subgraph> {
        let api = api(ctx);
        let max_depth = match max_depth {
            None => api.limits.default_lineage_depth,
            Some(depth) if depth < 0 => return Err(Error::new("maxDepth must be 0 or more")),
            Some(depth) => (depth as u32).min(api.limits.max_lineage_depth),
        };
        let Some(start) = find(ctx, kind.into(), &key).await? else {
            return Ok(Subgraph {
                nodes: Vec::new(),
                edges: Vec::new(),
                truncated: false,
            });
        };
        let direction = match direction {
            Direction::Upstream => provgraph_store::Direction::Upstream,
            Direction::Downstream => provgraph_store::Direction::Downstream,
        };
        let limits = LineageLimits {
            max_depth,
            max_nodes: api.limits.max_lineage_nodes,
        };
        let sub = api
            .store
            .lineage(&start, direction, limits)
            .await
            .map_err(store_error)?;
        let look = ctx.look_ahead();
        let want_attributes = look.field("nodes").field("attributes").exists()
            || look
                .field("edges")
                .field("from")
                .field("attributes")
                .exists()
            || look.field("edges").field("to").field("attributes").exists();
        let want_evidence = look.field("edges").field("evidence").exists();
        let mut attributes: HashMap<i64, Vec<Attribute>> = HashMap::new();
        if want_attributes {
            let node_ids: Vec<i64> = sub.nodes.iter().map(|n| n.id).collect();
            for row in api.store.attributes(&node_ids).await.map_err(store_error)? {
                attributes.entry(row.node_id).or_default().push(Attribute {
                    name: row.name,
                    value: row.value,
                });
            }
        }
        let nodes: HashMap<i64, Node> = sub
            .nodes
            .iter()
            .map(|row| {
                let attrs = want_attributes
                    .then(|| Arc::new(attributes.remove(&row.id).unwrap_or_default()));
                (
                    row.id,
                    Node {
                        row: row.clone(),
                        attributes: attrs,
                    },
                )
            })
            .collect();
        let mut evidence: HashMap<i64, Vec<Evidence>> = HashMap::new();
        if want_evidence {
            let edge_ids: Vec<i64> = sub.edges.iter().map(|e| e.id).collect();
            for row in api.store.evidence(&edge_ids).await.map_err(store_error)? {
                evidence.entry(row.edge_id).or_default().push(row.into());
            }
        }
        let want_proofs = look.field("edges").field("proofs").exists()
            || look.field("edges").field("support").exists();
        let mut proofs = if want_proofs {
            proofs_by_edge(api, &sub.edges).await?
        } else {
            HashMap::new()
        };
        let edges = sub
            .edges
            .iter()
            .filter_map(|row| {
                Some(Edge {
                    row: row.clone(),
                    from: nodes.get(&row.from_id)?.clone(),
                    to: nodes.get(&row.to_id)?.clone(),
                    evidence: want_evidence
                        .then(|| Arc::new(evidence.remove(&row.id).unwrap_or_default())),
                    proofs: Arc::new(proofs.remove(&row.id).unwrap_or_default()),
                })
            })
            .collect();
        let ordered = sub
            .nodes
            .iter()
            .filter_map(|row| nodes.get(&row.id).cloned())
            .collect();
        Ok(Subgraph {
            nodes: ordered,
            edges,
            truncated: sub.truncated,
        })
    }

    /// Everything reachable from one node, a page at a time, nearest first
    /// (by depth, then in a fixed order within a depth), without the node
    /// cap of `lineage`: for hubs, such as every image built from a
    /// repository (`kind: REPOSITORY, direction: DOWNSTREAM, kinds:
    /// [ARTIFACT]`). kinds: only nodes of these kinds in the pages (the walk
    /// still passes through the others). first: nodes per page (default 100,
    /// at most the list limit, 1,000). after: the previous page's
    /// `endCursor`; cursors stay valid as the graph grows. maxDepth as for
    /// `lineage`.
    #[graphql(complexity = "10 + child_complexity * 10")]
    #[allow(clippy::too_many_arguments)]
    async fn lineage_page(
        &self,
        ctx: &Context<'_>,
        kind: NodeKind,
        key: String,
        direction: Direction,
        max_depth: Option<i32>,
        kinds: Option<Vec<NodeKind>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<LineageConnection> {
        let api = api(ctx);
        let max_depth = match max_depth {
            None => api.limits.default_lineage_depth,
            Some(depth) if depth < 0 => return Err(Error::new("maxDepth must be 0 or more")),
            Some(depth) => (depth as u32).min(api.limits.max_lineage_depth),
        };
        let first = match first {
            None => 100.min(api.limits.max_list),
            Some(n) if n < 0 => return Err(Error::new("first must be 0 or more")),
            Some(n) if n as usize > api.limits.max_list => {
                return Err(Error::new(format!(
                    "first must be at most {}",
                    api.limits.max_list
                )));
            }
            Some(n) => n as usize,
        };
        let after = after.as_deref().map(parse_page_cursor).transpose()?;
        let empty = LineageConnection {
            edges: Vec::new(),
            page_info: PageInfo {
                has_next_page: false,
                end_cursor: None,
            },
        };
        let Some(start) = find(ctx, kind.into(), &key).await? else {
            return Ok(empty);
        };
        let request = provgraph_store::PageRequest {
            direction: match direction {
                Direction::Upstream => provgraph_store::Direction::Upstream,
                Direction::Downstream => provgraph_store::Direction::Downstream,
            },
            max_depth,
            kinds: kinds
                .unwrap_or_default()
                .into_iter()
                .map(ModelNodeKind::from)
                .collect(),
            first,
            after,
            sql_max_nodes: api.limits.max_lineage_nodes,
        };
        let page = api
            .store
            .lineage_page(&start, &request)
            .await
            .map_err(store_error)?;
        let edges: Vec<LineageNodeEdge> = page
            .nodes
            .into_iter()
            .map(|(row, depth)| LineageNodeEdge {
                cursor: page_cursor(depth, row.id),
                depth: depth as i32,
                node: Node::new(row),
            })
            .collect();
        let end_cursor = edges.last().map(|e| e.cursor.clone());
        Ok(LineageConnection {
            edges,
            page_info: PageInfo {
                has_next_page: page.has_next,
                end_cursor,
            },
        })
    }

    /// An auditor's question in one query: is this digest signed by a trusted
    /// signer, is its source proven, do span claims agree with the proofs?
    /// With the evidence chain behind the answer.
    #[graphql(complexity = "20 + child_complexity * 10")]
    async fn audit(&self, ctx: &Context<'_>, digest: String) -> Result<Audit> {
        let digest = normalize(ModelNodeKind::Artifact, &digest)?;
        let api = api(ctx);
        let indexes: Vec<String> = api
            .store
            .indexes_of(&digest)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|listing| listing.index)
            .collect();
        let mut signatures = Vec::new();
        for subject in std::iter::once(&digest).chain(indexes.iter()) {
            let rows = api.store.signatures(subject).await.map_err(store_error)?;
            signatures.extend(rows.into_iter().map(Signature::new));
        }
        let node = api
            .store
            .node(ModelNodeKind::Artifact, &digest)
            .await
            .map_err(store_error)?;
        let Some(node) = node else {
            return Ok(Audit {
                digest,
                verdict: Verdict::Unknown,
                summary: "provgraph knows nothing of this digest".into(),
                signed_by_trusted_signer: false,
                source_proven: false,
                claims_corroborated: false,
                conflicts: Vec::new(),
                signatures,
                covered_through_indexes: indexes,
                chain: Subgraph {
                    nodes: Vec::new(),
                    edges: Vec::new(),
                    truncated: false,
                },
            });
        };
        // Platform manifest -> index -> build -> commit -> repository.
        let limits = LineageLimits {
            max_depth: 4,
            max_nodes: api.limits.max_lineage_nodes,
        };
        let sub = api
            .store
            .lineage(&node, provgraph_store::Direction::Upstream, limits)
            .await
            .map_err(store_error)?;
        let edge_ids: Vec<i64> = sub.edges.iter().map(|e| e.id).collect();
        let mut evidence: HashMap<i64, Vec<Evidence>> = HashMap::new();
        for row in api.store.evidence(&edge_ids).await.map_err(store_error)? {
            evidence.entry(row.edge_id).or_default().push(row.into());
        }
        let claims: HashMap<i64, bool> = edge_ids
            .iter()
            .map(|id| (*id, evidence.contains_key(id)))
            .collect();
        let mut proofs = proofs_by_edge(api, &sub.edges).await?;
        let nodes: HashMap<i64, Node> = sub
            .nodes
            .iter()
            .map(|row| (row.id, Node::new(row.clone())))
            .collect();
        let edges: Vec<Edge> = sub
            .edges
            .iter()
            .filter_map(|row| {
                Some(Edge {
                    row: row.clone(),
                    from: nodes.get(&row.from_id)?.clone(),
                    to: nodes.get(&row.to_id)?.clone(),
                    evidence: Some(Arc::new(evidence.remove(&row.id).unwrap_or_default())),
                    proofs: Arc::new(proofs.remove(&row.id).unwrap_or_default()),
                })
            })
            .collect();

        let mut start = vec![node.id];
        start.extend(
            edges
                .iter()
                .filter(|e| e.row.kind == E::PartOf && e.row.from_id == node.id)
                .map(|e| e.row.to_id),
        );
        let mut conflicts = Vec::new();
        let mut compare = |kind: NodeKind, claimed: &[(i64, String)], proven: &[(i64, String)]| {
            let (claimed, proven) = (keys_of(claimed), keys_of(proven));
            let disjoint = !claimed.is_empty()
                && !proven.is_empty()
                && !claimed.iter().any(|c| proven.contains(c));
            if disjoint || proven.len() > 1 {
                conflicts.push(Conflict {
                    kind,
                    claimed,
                    proven,
                });
            }
        };
        let claimed_builds = reach(&edges, &claims, &start, E::BuiltBy, true, false);
        let proven_builds = reach(&edges, &claims, &start, E::BuiltBy, false, false);
        compare(NodeKind::Build, &claimed_builds, &proven_builds);
        let claimed_commits = reach(
            &edges,
            &claims,
            &ids_of(&claimed_builds),
            E::FromCommit,
            true,
            false,
        );
        let proven_commits = reach(
            &edges,
            &claims,
            &ids_of(&proven_builds),
            E::FromCommit,
            false,
            false,
        );
        compare(NodeKind::Commit, &claimed_commits, &proven_commits);
        let claimed_repos = reach(
            &edges,
            &claims,
            &ids_of(&claimed_builds),
            E::FromRepository,
            true,
            false,
        );
        let proven_repos = reach(
            &edges,
            &claims,
            &ids_of(&proven_builds),
            E::FromRepository,
            false,
            false,
        );
        compare(NodeKind::Repository, &claimed_repos, &proven_repos);

        let trusted_builds = reach(&edges, &claims, &start, E::BuiltBy, false, true);
        let trusted_commits = reach(
            &edges,
            &claims,
            &ids_of(&trusted_builds),
            E::FromCommit,
            false,
            true,
        );
        let source_proven = !trusted_commits.is_empty();
        let proven_keys = keys_of(&proven_commits);
        let claims_corroborated = !claimed_commits.is_empty()
            && keys_of(&claimed_commits)
                .iter()
                .all(|c| proven_keys.contains(c));
        let signed_by_trusted_signer = signatures.iter().any(|s| s.row.trusted);
        let any_verified = signatures.iter().any(|s| s.row.verified);
        let (verdict, summary) = if signatures.is_empty() {
            (
                Verdict::Unsigned,
                "no signature or attestation is stored for this digest".to_string(),
            )
        } else if !any_verified {
            (
                Verdict::Forged,
                format!("{} signature(s) stored, none verifies", signatures.len()),
            )
        } else if !signed_by_trusted_signer {
            (
                Verdict::Untrusted,
                "signatures verify, but no signer is allowed by the trust policy".to_string(),
            )
        } else if !conflicts.is_empty() {
            (
                Verdict::Contradicted,
                format!(
                    "signed by a trusted signer, but {} fact(s) conflict",
                    conflicts.len()
                ),
            )
        } else {
            let source = if source_proven {
                "source proven"
            } else {
                "source not proven"
            };
            (
                Verdict::Trusted,
                format!("signed by a trusted signer; {source}"),
            )
        };
        let ordered = sub
            .nodes
            .iter()
            .filter_map(|row| nodes.get(&row.id).cloned())
            .collect();
        Ok(Audit {
            digest,
            verdict,
            summary,
            signed_by_trusted_signer,
            source_proven,
            claims_corroborated,
            conflicts,
            signatures,
            covered_through_indexes: indexes,
            chain: Subgraph {
                nodes: ordered,
                edges,
                truncated: sub.truncated,
            },
        })
    }

    /// A Go module by path, with or without a version: which go.mod files
    /// require it, and which builds, images and running workloads came from
    /// them. Without a version, every version in use.
    #[graphql(complexity = "10 + child_complexity * 10")]
    async fn module(
        &self,
        ctx: &Context<'_>,
        path: String,
        version: Option<String>,
    ) -> Result<ModuleUsage> {
        let api = api(ctx);
        let path = path.trim().to_string();
        let rows: Vec<NodeRow> = match &version {
            Some(version) => {
                let key = normalize(ModelNodeKind::Module, &format!("{path}@{version}"))?;
                api.store
                    .node(ModelNodeKind::Module, &key)
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .collect()
            }
            None => {
                // Validates the path with a placeholder version.
                normalize(ModelNodeKind::Module, &format!("{path}@v0"))?;
                api.store
                    .nodes_with_prefix(
                        ModelNodeKind::Module,
                        &format!("{path}@"),
                        api.limits.max_list as i64,
                    )
                    .await
                    .map_err(store_error)?
                    .into_iter()
                    .filter(|row| row.key.rsplit_once('@').is_some_and(|(p, _)| p == path))
                    .collect()
            }
        };
        Ok(ModuleUsage {
            path,
            versions: rows.into_iter().map(|row| ModuleVersion { row }).collect(),
        })
    }

    /// An artifact by digest (`sha256:` and 64 hex digits), or null.
    async fn artifact(&self, ctx: &Context<'_>, digest: String) -> Result<Option<Artifact>> {
        Ok(find(ctx, ModelNodeKind::Artifact, &digest)
            .await?
            .map(|row| Artifact { row }))
    }

    /// A commit by SHA (40 or 64 hex digits, any case), or null.
    async fn commit(&self, ctx: &Context<'_>, sha: String) -> Result<Option<Commit>> {
        Ok(find(ctx, ModelNodeKind::Commit, &sha)
            .await?
            .map(|row| Commit { row }))
    }

    /// A build by id, or null.
    async fn build(&self, ctx: &Context<'_>, id: String) -> Result<Option<Build>> {
        Ok(find(ctx, ModelNodeKind::Build, &id)
            .await?
            .map(|row| Build { row }))
    }

    /// A repository by URL in any usual form (https, ssh, scp-like), or null.
    async fn repository(&self, ctx: &Context<'_>, url: String) -> Result<Option<Repository>> {
        Ok(find(ctx, ModelNodeKind::Repository, &url)
            .await?
            .map(|row| Repository { row }))
    }

    /// A go.mod by hash (hex as `sha256sum go.mod` prints it, or `sha256:<hex>`), or null.
    async fn go_mod(&self, ctx: &Context<'_>, hash: String) -> Result<Option<GoMod>> {
        Ok(find(ctx, ModelNodeKind::Gomod, &hash)
            .await?
            .map(|row| GoMod { row }))
    }

    /// A workload by key (`ENVIRONMENT/NAMESPACE/NAME`), or null.
    async fn workload(&self, ctx: &Context<'_>, key: String) -> Result<Option<Workload>> {
        Ok(find(ctx, ModelNodeKind::Workload, &key)
            .await?
            .map(|row| Workload { row }))
    }
}
