//! The files a build names (go.mod, buildx metadata, iidfiles, an image
//! index), read and turned into attributes; a file named by a flag that
//! cannot be read or parsed is a problem, a go.mod found by default a note.

use std::path::{Path, PathBuf};

use provgraph_model::keys::normalize_digest;
use sha2::Digest as _;

use super::EmitArgs;
use super::attributes::{Collected, Value};
use super::gomod::{GoModError, parse_go_mod};
use super::images::{
    BuiltImage, ImageError, Products, parse_image_flag, read_buildx_metadata, read_iidfile,
};
use super::oci_index::{OciIndexError, read_oci_index};
use super::text::io_reason;

/// A file named by a flag that could not be read or did not say what it
/// should; the message starts with the flag and the path.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("{flag} {}: {}", .path.display(), io_reason(.source))]
    Read {
        flag: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {error}")]
    Image {
        origin: String,
        #[source]
        error: ImageError,
    },
    #[error("{origin}: {error}")]
    Index {
        origin: String,
        #[source]
        error: OciIndexError,
    },
}

fn read_file(flag: &'static str, path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|source| FileError::Read {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn collect_go_mod(args: &EmitArgs, out: &mut Collected) {
    let (path, flag) = match &args.go_mod {
        Some(path) => (path.clone(), true),
        None => {
            let path = PathBuf::from("go.mod");
            if !path.is_file() {
                return;
            }
            (path, false)
        }
    };
    let bytes = match read_file("--go-mod", &path) {
        Ok(bytes) => bytes,
        Err(reason) if flag => {
            out.problems.push(reason.to_string());
            return;
        }
        Err(reason) => {
            out.notes.push(reason.to_string());
            return;
        }
    };
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    out.put("go.mod.hash", Value::Str(hash.clone()));
    let shown = path.display().to_string();
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| GoModError::NotText)
        .and_then(parse_go_mod);
    match parsed {
        Ok(go_mod) => {
            let mut text = format!(
                "sha256:{hash} ({shown}, {} requirements, {} indirect",
                go_mod.requires.len(),
                go_mod.indirect.len()
            );
            if !go_mod.replaced_locally.is_empty() {
                text.push_str(&format!(
                    ", {} replaced by a local directory",
                    go_mod.replaced_locally.len()
                ));
            }
            text.push(')');
            out.say("go.mod", text);
            if let Some(module) = &go_mod.module {
                out.put("go.module.path", Value::Str(module.clone()));
                let mut text = module.clone();
                if let Some(go) = &go_mod.go_version {
                    text.push_str(&format!(", go {go}"));
                }
                out.say("module", format!("{text} ({shown})"));
            }
            if let Some(go) = &go_mod.go_version {
                out.put("go.module.go_version", Value::Str(go.clone()));
            }
            if !go_mod.requires.is_empty() {
                out.put("go.mod.requires", Value::Strs(go_mod.requires));
            }
            if !go_mod.indirect.is_empty() {
                out.put("go.mod.requires.indirect", Value::Strs(go_mod.indirect));
            }
            if !go_mod.replaced_locally.is_empty() {
                out.put(
                    "go.mod.replaced_locally",
                    Value::Strs(go_mod.replaced_locally),
                );
            }
        }
        Err(reason) => {
            out.say("go.mod", format!("sha256:{hash} ({shown}; not parsed)"));
            let message = format!("{shown}: {reason}: sending its hash only");
            if flag {
                out.notes.push(format!("--go-mod {message}"));
            } else {
                out.notes.push(message);
            }
        }
    }
}

pub(super) fn collect_images(args: &EmitArgs, out: &mut Collected) {
    let mut products = Products::default();
    for value in &args.image {
        match parse_image_flag(value) {
            Ok(image) => products.add(image, "--image"),
            Err(reason) => out.problems.push(format!("--image {value:?}: {reason}")),
        }
    }
    for value in &args.digest {
        match normalize_digest(value) {
            Ok(digest) => products.add(
                BuiltImage {
                    digest,
                    names: Vec::new(),
                },
                "--digest",
            ),
            Err(_) => out
                .problems
                .push(format!("--digest {value:?}: expected sha256:<64 hex>")),
        }
    }
    for path in &args.buildx_metadata {
        let source = format!("--buildx-metadata {}", path.display());
        match read_file("--buildx-metadata", path).and_then(|bytes| {
            read_buildx_metadata(&bytes).map_err(|error| FileError::Image {
                origin: source.clone(),
                error,
            })
        }) {
            Ok(images) => {
                for image in images {
                    products.add(image, &source);
                }
            }
            Err(reason) => out.problems.push(reason.to_string()),
        }
    }
    for path in &args.iidfile {
        let source = format!("--iidfile {}", path.display());
        match read_file("--iidfile", path).and_then(|bytes| {
            read_iidfile(&bytes).map_err(|error| FileError::Image {
                origin: source.clone(),
                error,
            })
        }) {
            Ok(digest) => products.add(
                BuiltImage {
                    digest,
                    names: Vec::new(),
                },
                &source,
            ),
            Err(reason) => out.problems.push(reason.to_string()),
        }
    }
    if let Some(path) = &args.oci_index {
        let source = format!("--oci-index {}", path.display());
        match read_file("--oci-index", path).and_then(|bytes| {
            read_oci_index(&bytes).map_err(|error| FileError::Index {
                origin: source.clone(),
                error,
            })
        }) {
            Ok(index) => {
                products.add(
                    BuiltImage {
                        digest: index.digest.clone(),
                        names: Vec::new(),
                    },
                    &source,
                );
                products.index = Some((index, source));
            }
            Err(reason) => out.problems.push(reason.to_string()),
        }
    }
    if products.images.is_empty() {
        return;
    }
    if products.images.len() == 1 {
        out.put(
            "oci.manifest.digest",
            Value::Str(products.images[0].0.clone()),
        );
    }
    let mut repo_digests = Vec::new();
    let mut first_name = None;
    for (digest, names, sources) in &products.images {
        if names.is_empty() && products.images.len() > 1 {
            out.problems.push(format!(
                "{digest} ({}): with several image digests each needs a name: give it as --image NAME@{digest}",
                sources.join(", ")
            ));
        }
        for name in names {
            first_name.get_or_insert_with(|| name.clone());
            let entry = format!("{name}@{digest}");
            if !repo_digests.contains(&entry) {
                repo_digests.push(entry);
            }
        }
        let named = if names.is_empty() {
            String::new()
        } else {
            format!(" {}", names.join(", "))
        };
        out.say("image", format!("{digest}{named} ({})", sources.join(", ")));
    }
    if !repo_digests.is_empty() {
        out.put("container.image.repo_digests", Value::Strs(repo_digests));
    }
    if let Some(name) = first_name {
        out.put("container.image.name", Value::Str(name));
    }
    if !products.tags.is_empty() {
        out.say("tags", products.tags.join(", "));
        out.put("container.image.tags", Value::Strs(products.tags.clone()));
    }
    if let Some((index, source)) = products.index {
        out.say(
            "index",
            format!(
                "{} has {} manifests ({source}); link them with POST /v1/index or provgraph discover",
                index.digest,
                index.manifests.len()
            ),
        );
        out.put("oci.index.manifests", Value::Strs(index.manifests));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::test_support::args;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn strs(out: &Collected, key: &str) -> Vec<String> {
        match out.get(key) {
            Some(Value::Strs(values)) => values.clone(),
            Some(Value::Str(value)) => vec![value.clone()],
            other => panic!("{key}: {other:?}"),
        }
    }

    #[test]
    fn go_mod_hash_module_and_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("go.mod");
        let text = "module example.com/app\ngo 1.22\nrequire (\n\texample.com/a v1.0.0\n\texample.com/b v0.1.0 // indirect\n)\n";
        std::fs::write(&path, text).unwrap();
        let mut out = Collected::default();
        collect_go_mod(&args(&["--go-mod", path.to_str().unwrap()]), &mut out);
        assert_eq!(
            strs(&out, "go.mod.hash"),
            vec![hex::encode(sha2::Sha256::digest(text.as_bytes()))]
        );
        assert_eq!(strs(&out, "go.module.path"), vec!["example.com/app"]);
        assert_eq!(strs(&out, "go.module.go_version"), vec!["1.22"]);
        assert_eq!(strs(&out, "go.mod.requires"), vec!["example.com/a@v1.0.0"]);
        assert_eq!(
            strs(&out, "go.mod.requires.indirect"),
            vec!["example.com/b@v0.1.0"]
        );
        assert!(out.problems.is_empty() && out.notes.is_empty());

        // Unparsable: the hash is still sent, with a note.
        std::fs::write(&path, "require (\n").unwrap();
        let mut out = Collected::default();
        collect_go_mod(&args(&["--go-mod", path.to_str().unwrap()]), &mut out);
        assert!(out.get("go.mod.hash").is_some());
        assert_eq!(out.get("go.mod.requires"), None);
        assert_eq!(
            out.notes,
            vec![format!(
                "--go-mod {}: require ( block is not closed: sending its hash only",
                path.display()
            )]
        );
        std::fs::write(&path, [0xffu8, 0xfe]).unwrap();
        let mut out = Collected::default();
        collect_go_mod(&args(&["--go-mod", path.to_str().unwrap()]), &mut out);
        assert!(
            out.notes[0].contains(": not UTF-8 text: "),
            "{:?}",
            out.notes
        );

        // A --go-mod that is not there is a problem.
        let missing = dir.path().join("missing.mod");
        let mut out = Collected::default();
        collect_go_mod(&args(&["--go-mod", missing.to_str().unwrap()]), &mut out);
        assert_eq!(
            out.problems,
            vec![format!("--go-mod {}: no such file", missing.display())]
        );
        assert_eq!(out.get("go.mod.hash"), None);
    }

    #[test]
    fn images_from_files_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("meta.json");
        std::fs::write(
            &meta,
            format!(r#"{{"containerimage.digest":"{A}","image.name":"ghcr.io/acme/calc:v1"}}"#),
        )
        .unwrap();
        let iid = dir.path().join("image.iid");
        std::fs::write(&iid, format!("{A}\n")).unwrap();
        let missing = dir.path().join("missing.iid");
        let flags = [
            "--buildx-metadata",
            meta.to_str().unwrap(),
            "--iidfile",
            iid.to_str().unwrap(),
            "--iidfile",
            missing.to_str().unwrap(),
            "--image",
            "calc",
        ];
        let mut out = Collected::default();
        collect_images(&args(&flags), &mut out);
        // One digest from two files: one image.
        assert_eq!(strs(&out, "oci.manifest.digest"), vec![A]);
        assert_eq!(
            strs(&out, "container.image.repo_digests"),
            vec![format!("ghcr.io/acme/calc@{A}")]
        );
        assert_eq!(strs(&out, "container.image.tags"), vec!["v1"]);
        assert_eq!(
            out.problems,
            vec![
                "--image \"calc\": expected NAME@sha256:<64 hex>".to_string(),
                format!("--iidfile {}: no such file", missing.display()),
            ]
        );

        // Two digests, one without a name: sent, and a problem.
        let mut out = Collected::default();
        collect_images(
            &args(&["--image", &format!("acme/app@{A}"), "--digest", B]),
            &mut out,
        );
        assert_eq!(out.get("oci.manifest.digest"), None);
        assert_eq!(out.problems.len(), 1, "{:?}", out.problems);
        assert!(
            out.problems[0].starts_with(&format!("{B} (--digest): with several image digests")),
            "{:?}",
            out.problems
        );
    }

    #[test]
    fn an_image_index_is_the_product() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        let bytes = format!(r#"{{"manifests":[{{"digest":"{A}"}},{{"digest":"{B}"}}]}}"#);
        std::fs::write(&path, &bytes).unwrap();
        let mut out = Collected::default();
        collect_images(&args(&["--oci-index", path.to_str().unwrap()]), &mut out);
        let digest = format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes.as_bytes()))
        );
        assert_eq!(strs(&out, "oci.manifest.digest"), vec![digest]);
        assert_eq!(strs(&out, "oci.index.manifests"), vec![A, B]);
        assert!(out.problems.is_empty(), "{:?}", out.problems);

        std::fs::write(&path, r#"{"layers":[]}"#).unwrap();
        let mut out = Collected::default();
        collect_images(&args(&["--oci-index", path.to_str().unwrap()]), &mut out);
        assert_eq!(
            out.problems,
            vec![format!(
                "--oci-index {}: a single-platform image manifest, not an index: give its digest with --digest",
                path.display()
            )]
        );
        assert_eq!(out.get("oci.manifest.digest"), None);
    }
}
