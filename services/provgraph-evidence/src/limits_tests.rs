//! Tests of what one piece of evidence may store (issue #13, finding 3): a
//! body stored once however many subjects it names, a cap on subjects per
//! envelope, and the quota of unverified evidence, on both databases.

use std::sync::Arc;

use base64::Engine;
use provgraph_signatures::{MAX_SUBJECTS, TrustPolicy};
use provgraph_store::testing::{Flavor, TestDb};
use provgraph_store::{EvidenceQuota, NewEvidenceBody, StoreError, both_databases};

use crate::{ImportError, import, import_as};

/// Text that does not compress (PostgreSQL compresses long values): hex of
/// a simple generator, `len` characters.
fn noise(len: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005) | 1;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from_digit(((state >> 59) & 0xf) as u32, 16).unwrap_or('0')
        })
        .collect()
}

/// A cosign attestation layer (DSSE envelope, in-toto statement v1) naming
/// `subjects` images, padded with `padding` characters of predicate; its
/// signature is not one, so it is kept unverified.
fn attestation(subjects: usize, padding: usize, seed: u64) -> Vec<u8> {
    let subject: Vec<serde_json::Value> = (0..subjects)
        .map(|i| {
            serde_json::json!({
                "name": format!("ghcr.io/acme/calc-{i}"),
                "digest": {"sha256": format!("{:064x}", i as u64 + 1 + seed * 1_000_000)},
            })
        })
        .collect();
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": "https://example.com/padding/v1",
        "subject": subject,
        "predicate": {"padding": noise(padding, seed)},
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": b64.encode(statement.to_string()),
        "signatures": [{"keyid": "", "sig": b64.encode(b"forged")}],
    });
    serde_json::to_vec(&serde_json::json!({
        "payload": b64.encode(envelope.to_string()),
        "signature": "",
    }))
    .unwrap()
}

async fn many_subjects_store_the_body_once(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.unwrap();
    let policy = Arc::new(TrustPolicy::default());

    // As many subjects as one envelope may name: one body, one row each.
    let body = attestation(MAX_SUBJECTS, 200_000, 1);
    let before = db.size_bytes().await;
    let results = import(&store, policy.clone(), &body, None).await.unwrap();
    assert_eq!(results.len(), MAX_SUBJECTS);
    assert!(results.iter().all(|r| !r.verified()));
    let grown = db.size_bytes().await - before;
    let allowed = 2 * body.len() as i64 + MAX_SUBJECTS as i64 * 8 * 1024;
    assert!(
        grown <= allowed,
        "{MAX_SUBJECTS} subjects of a {} byte body grew the database by {grown} bytes (at most {allowed})",
        body.len()
    );
    assert_eq!(store.evidence_bodies().await.unwrap().len(), 1);

    // 2,000 subjects (the 645 MB): refused whole, nothing stored.
    let body = attestation(2_000, 100_000, 2);
    let before = db.size_bytes().await;
    let err = import(&store, policy.clone(), &body, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ImportError::TooLarge(message) if message.contains("2000 subjects")),
        "{err}"
    );
    let grown = db.size_bytes().await - before;
    assert!(
        grown <= 64 * 1024,
        "a refused envelope grew the database by {grown} bytes"
    );
    assert_eq!(store.evidence_bodies().await.unwrap().len(), 1);
    db.cleanup().await;
}

fn unverified(id: &str, principal: Option<&str>, bytes: usize) -> NewEvidenceBody {
    NewEvidenceBody {
        evidence_id: id.to_string(),
        subject: format!("sha256:{}", "1".repeat(64)),
        body: "x".repeat(bytes),
        verified: false,
        principal: principal.map(str::to_string),
    }
}

async fn unverified_evidence_is_kept_within_its_quota(flavor: Flavor) {
    let db = TestDb::new(flavor).await;
    let store = db.store().await.unwrap();
    let quota = EvidenceQuota {
        unverified_bytes: 3_000,
        unverified_bytes_per_principal: 1_000,
    };
    let write = |body: NewEvidenceBody| {
        let store = store.clone();
        async move { store.write_signatures(&body, &quota, &[]).await }
    };
    write(unverified("a1", Some("ci-a"), 600)).await.unwrap();
    // The same evidence again stores nothing new: allowed.
    write(unverified("a1", Some("ci-a"), 600)).await.unwrap();
    // Past the principal's share: refused, nothing stored.
    let err = write(unverified("a2", Some("ci-a"), 600))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Quota(message) if message.contains("ci-a")),
        "{err}"
    );
    // Another principal has its own share.
    write(unverified("b1", Some("ci-b"), 600)).await.unwrap();
    // Verified evidence is not counted.
    let mut verified = unverified("v1", Some("ci-a"), 5_000);
    verified.verified = true;
    write(verified).await.unwrap();
    // Without tokens only the global quota counts: 1,200 of 3,000 spent.
    write(unverified("n1", None, 1_500)).await.unwrap();
    let err = write(unverified("n2", None, 400)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Quota(message) if message.contains("all senders")),
        "{err}"
    );
    let ids: Vec<String> = store
        .evidence_bodies()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.evidence_id)
        .collect();
    assert_eq!(ids, ["a1", "b1", "n1", "v1"]);

    // Through the import, with a principal.
    let policy = Arc::new(TrustPolicy::default());
    let principal = provgraph_model::Principal::new("ci-c");
    let body = attestation(1, 10, 3);
    import_as(&store, policy, &body, None, Some(&principal))
        .await
        .unwrap();
    db.cleanup().await;
}

both_databases!(
    many_subjects_store_the_body_once,
    unverified_evidence_is_kept_within_its_quota
);
