//! The images a build produced: digests and names from `--image` and
//! `--digest`, `docker buildx --metadata-file` output and `--iidfile`, merged
//! by digest with where each came from.

use provgraph_model::keys::normalize_digest;

use super::oci_index::OciIndex;

/// One image a build produced: its digest and the names (with tags) it was
/// given, from one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Names as given, possibly with a tag (`ghcr.io/acme/calc:v1`).
    pub names: Vec<String>,
}

/// Why an image flag, buildx metadata file or iidfile gave no image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// `containerimage.digest` is there but not a string.
    #[error("containerimage.digest is not a string")]
    DigestNotString,
    /// `containerimage.digest` is not `sha256:<64 hex>`.
    #[error("containerimage.digest {0:?} is not sha256:<64 hex>")]
    BadDigest(String),
    /// One bake target's problem, with the target's name.
    #[error("{target}: {error}")]
    Target {
        target: String,
        #[source]
        error: Box<ImageError>,
    },
    /// Neither the object nor any bake target names a digest.
    #[error("no containerimage.digest")]
    NoDigest,
    /// An iidfile that is not UTF-8 text.
    #[error("not text")]
    NotText,
    /// An empty iidfile.
    #[error("empty")]
    Empty,
    /// An iidfile that does not hold a digest.
    #[error("{0:?} is not an image digest (sha256:<64 hex>)")]
    NotDigest(String),
    /// An `--image` that is not `NAME@sha256:<64 hex>`.
    #[error("expected NAME@sha256:<64 hex>")]
    ImageFlag,
}

/// Reads `docker buildx build --metadata-file` output: `containerimage.digest`
/// (else `containerimage.descriptor.digest`) and the comma-separated
/// `image.name`. `docker buildx bake --metadata-file` writes one such object
/// per target: each target with a digest is an image.
pub fn read_buildx_metadata(bytes: &[u8]) -> Result<Vec<BuiltImage>, ImageError> {
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(ImageError::NotJson)?;
    let object = json.as_object().ok_or(ImageError::NotObject)?;
    fn one(
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<Result<BuiltImage, ImageError>> {
        let raw = object
            .get("containerimage.digest")
            .or_else(|| object.get("containerimage.descriptor")?.get("digest"))?;
        let Some(raw) = raw.as_str() else {
            return Some(Err(ImageError::DigestNotString));
        };
        let digest = match normalize_digest(raw) {
            Ok(digest) => digest,
            Err(_) => return Some(Err(ImageError::BadDigest(raw.to_string()))),
        };
        let names = object
            .get("image.name")
            .and_then(|n| n.as_str())
            .map(|names| {
                names
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Some(Ok(BuiltImage { digest, names }))
    }
    if let Some(image) = one(object) {
        return image.map(|image| vec![image]);
    }
    // bake: { "target": { "containerimage.digest": ... }, ... }
    let mut images = Vec::new();
    for (target, value) in object {
        if let Some(image) = value.as_object().and_then(one) {
            images.push(image.map_err(|error| ImageError::Target {
                target: target.clone(),
                error: Box::new(error),
            })?);
        }
    }
    if images.is_empty() {
        return Err(ImageError::NoDigest);
    }
    Ok(images)
}

/// Reads a `--iidfile`: one `sha256:<hex>`.
pub fn read_iidfile(bytes: &[u8]) -> Result<String, ImageError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ImageError::NotText)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ImageError::Empty);
    }
    normalize_digest(text).map_err(|_| ImageError::NotDigest(text.to_string()))
}

/// `NAME[:TAG]` → (`NAME`, `TAG`): the tag is after the last `:` that
/// follows the last `/` (a registry port is not a tag).
pub(super) fn split_tag(reference: &str) -> (String, Option<String>) {
    let reference = reference.trim();
    let last_slash = reference.rfind('/').map_or(0, |at| at + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (
                reference[..at].to_string(),
                Some(reference[at + 1..].to_string()),
            )
        }
        _ => (reference.to_string(), None),
    }
}

/// `--image NAME[:TAG]@sha256:<hex>`.
pub(super) fn parse_image_flag(value: &str) -> Result<BuiltImage, ImageError> {
    let (name, digest) = value.rsplit_once('@').ok_or(ImageError::ImageFlag)?;
    let digest = normalize_digest(digest).map_err(|_| ImageError::ImageFlag)?;
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        return Err(ImageError::ImageFlag);
    }
    Ok(BuiltImage {
        digest,
        names: vec![name.trim().to_string()],
    })
}

/// The products of a build, merged by digest, with where each came from.
#[derive(Debug, Default)]
pub(super) struct Products {
    /// (digest, names without tags, sources), in first-seen order.
    pub(super) images: Vec<(String, Vec<String>, Vec<String>)>,
    pub(super) tags: Vec<String>,
    pub(super) index: Option<(OciIndex, String)>,
}

impl Products {
    pub(super) fn add(&mut self, image: BuiltImage, source: &str) {
        let position = match self.images.iter().position(|(d, _, _)| *d == image.digest) {
            Some(position) => position,
            None => {
                self.images
                    .push((image.digest.clone(), Vec::new(), Vec::new()));
                self.images.len() - 1
            }
        };
        let entry = &mut self.images[position];
        if !entry.2.iter().any(|s| s == source) {
            entry.2.push(source.to_string());
        }
        for name in image.names {
            let (name, tag) = split_tag(&name);
            if !name.is_empty() && !entry.1.contains(&name) {
                entry.1.push(name);
            }
            if let Some(tag) = tag.filter(|t| !t.is_empty())
                && !self.tags.contains(&tag)
            {
                self.tags.push(tag);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn buildx_metadata_digest_names_and_errors() {
        let meta = format!(
            r#"{{"buildx.build.ref":"x/y/z","containerimage.config.digest":"{B}",
                "containerimage.descriptor":{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{A}","size":1609}},
                "containerimage.digest":"{A}","image.name":"ghcr.io/acme/calc:v1.0.0, ghcr.io/acme/calc:latest"}}"#
        );
        let images = read_buildx_metadata(meta.as_bytes()).unwrap();
        assert_eq!(
            images,
            vec![BuiltImage {
                digest: A.to_string(),
                names: vec![
                    "ghcr.io/acme/calc:v1.0.0".to_string(),
                    "ghcr.io/acme/calc:latest".to_string()
                ],
            }]
        );
        // Only the descriptor: its digest.
        let meta = format!(r#"{{"containerimage.descriptor":{{"digest":"{B}"}}}}"#);
        assert_eq!(read_buildx_metadata(meta.as_bytes()).unwrap()[0].digest, B);
        // bake: one object per target.
        let meta = format!(
            r#"{{"app":{{"containerimage.digest":"{A}","image.name":"acme/app"}},"tool":{{"containerimage.digest":"{B}"}}}}"#
        );
        let images = read_buildx_metadata(meta.as_bytes()).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[1].digest, B);
        let err = read_buildx_metadata(br#"{"buildx.build.ref":"x"}"#).unwrap_err();
        assert!(matches!(err, ImageError::NoDigest), "{err}");
        assert_eq!(err.to_string(), "no containerimage.digest");
        let err = read_buildx_metadata(br#"{"containerimage.digest":"sha256:abc"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "containerimage.digest \"sha256:abc\" is not sha256:<64 hex>"
        );
        let err = read_buildx_metadata(br#"{"containerimage.digest":1}"#).unwrap_err();
        assert!(matches!(err, ImageError::DigestNotString), "{err}");
        // bake: a bad target is named.
        let meta = format!(
            r#"{{"app":{{"containerimage.digest":"{A}"}},"tool":{{"containerimage.digest":"sha256:0"}}}}"#
        );
        let err = read_buildx_metadata(meta.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, ImageError::Target { target, .. } if target == "tool"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("tool: containerimage.digest"),
            "{err}"
        );
        let err = read_buildx_metadata(b"{not json").unwrap_err();
        assert!(matches!(err, ImageError::NotJson(_)), "{err}");
        assert!(err.to_string().starts_with("not JSON: "), "{err}");
        let err = read_buildx_metadata(b"[1]").unwrap_err();
        assert_eq!(err.to_string(), "not a JSON object");
    }

    #[test]
    fn iidfile_reader() {
        assert_eq!(read_iidfile(format!("{A}\n").as_bytes()).unwrap(), A);
        assert_eq!(
            read_iidfile(A.to_uppercase().replace("SHA256", "sha256").as_bytes()).unwrap(),
            A
        );
        assert!(matches!(read_iidfile(b"  \n"), Err(ImageError::Empty)));
        assert_eq!(
            read_iidfile(b"abc\n").unwrap_err().to_string(),
            "\"abc\" is not an image digest (sha256:<64 hex>)"
        );
        assert!(matches!(
            read_iidfile(&[0xff, 0xfe]),
            Err(ImageError::NotText)
        ));
    }

    #[test]
    fn image_names_and_tags() {
        assert_eq!(
            split_tag("ghcr.io/acme/calc:v1"),
            ("ghcr.io/acme/calc".into(), Some("v1".into()))
        );
        assert_eq!(
            split_tag("localhost:5000/acme/calc"),
            ("localhost:5000/acme/calc".into(), None)
        );
        assert_eq!(
            split_tag("calc:latest"),
            ("calc".into(), Some("latest".into()))
        );
        assert_eq!(
            split_tag("ghcr.io/acme/calc"),
            ("ghcr.io/acme/calc".into(), None)
        );
        let image = parse_image_flag(&format!("ghcr.io/acme/calc:v1@{A}")).unwrap();
        assert_eq!(image.digest, A);
        assert_eq!(image.names, vec!["ghcr.io/acme/calc:v1"]);
        assert!(matches!(parse_image_flag(A), Err(ImageError::ImageFlag)));
        assert!(matches!(
            parse_image_flag("calc@sha256:12"),
            Err(ImageError::ImageFlag)
        ));
        assert!(matches!(
            parse_image_flag(&format!("my calc@{A}")),
            Err(ImageError::ImageFlag)
        ));
    }

    #[test]
    fn products_merge_by_digest() {
        let mut products = Products::default();
        products.add(
            BuiltImage {
                digest: A.into(),
                names: vec![
                    "ghcr.io/acme/calc:v1".into(),
                    "ghcr.io/acme/calc:latest".into(),
                ],
            },
            "--buildx-metadata meta.json",
        );
        products.add(
            BuiltImage {
                digest: B.into(),
                names: Vec::new(),
            },
            "--digest",
        );
        products.add(
            BuiltImage {
                digest: A.into(),
                names: vec!["localhost:5000/calc:v1".into()],
            },
            "--image",
        );
        products.add(
            BuiltImage {
                digest: A.into(),
                names: vec!["ghcr.io/acme/calc".into()],
            },
            "--image",
        );
        assert_eq!(
            products.images,
            vec![
                (
                    A.to_string(),
                    vec![
                        "ghcr.io/acme/calc".to_string(),
                        "localhost:5000/calc".to_string()
                    ],
                    vec![
                        "--buildx-metadata meta.json".to_string(),
                        "--image".to_string()
                    ],
                ),
                (B.to_string(), Vec::new(), vec!["--digest".to_string()]),
            ]
        );
        assert_eq!(products.tags, vec!["v1", "latest"]);
    }
}
