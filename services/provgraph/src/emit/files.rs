//! The files a build names (go.mod, buildx metadata, iidfiles, an image
//! index), read and turned into attributes; a file named by a flag that
//! cannot be read or parsed is a problem, a go.mod found by default a note.

use std::path::{Path, PathBuf};

use provgraph_model::keys::normalize_digest;
use sha2::Digest as _;

use super::EmitArgs;
use super::attributes::{Collected, Value};
use super::gomod::parse_go_mod;
use super::images::{BuiltImage, Products, parse_image_flag, read_buildx_metadata, read_iidfile};
use super::oci_index::read_oci_index;
use super::text::io_reason;

fn read_file(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("{flag} {}: {}", path.display(), io_reason(&err)))
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
            out.problems.push(reason);
            return;
        }
        Err(reason) => {
            out.notes.push(reason);
            return;
        }
    };
    let hash = hex::encode(sha2::Sha256::digest(&bytes));
    out.put("go.mod.hash", Value::Str(hash.clone()));
    let shown = path.display().to_string();
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| "not UTF-8 text".to_string())
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
            read_buildx_metadata(&bytes).map_err(|reason| format!("{source}: {reason}"))
        }) {
            Ok(images) => {
                for image in images {
                    products.add(image, &source);
                }
            }
            Err(reason) => out.problems.push(reason),
        }
    }
    for path in &args.iidfile {
        let source = format!("--iidfile {}", path.display());
        match read_file("--iidfile", path)
            .and_then(|bytes| read_iidfile(&bytes).map_err(|reason| format!("{source}: {reason}")))
        {
            Ok(digest) => products.add(
                BuiltImage {
                    digest,
                    names: Vec::new(),
                },
                &source,
            ),
            Err(reason) => out.problems.push(reason),
        }
    }
    if let Some(path) = &args.oci_index {
        let source = format!("--oci-index {}", path.display());
        match read_file("--oci-index", path).and_then(|bytes| {
            read_oci_index(&bytes).map_err(|reason| format!("{source}: {reason}"))
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
            Err(reason) => out.problems.push(reason),
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
