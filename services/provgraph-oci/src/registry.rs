//! [`Registry`]: a registry's base URL and HTTP client, and the capped,
//! digest-checked reads of manifests and blobs that discovery is built on.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LINK};
use reqwest::{StatusCode, Url};

use crate::manifest::{Descriptor, Document, media_types, parse_document};
use crate::reference::{parse_digest, verify_digest};
use crate::{MAX_BLOB_BYTES, MAX_MANIFEST_BYTES, OciError};
use provgraph_model::one_line;

/// How much of an error answer is read to find the registry's error code.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// An OCI distribution registry reached over plain HTTP, e.g.
/// `http://127.0.0.1:5000`.
///
/// Requests carry no credentials (authentication is not implemented yet);
/// each request times out after 60 s (10 s to connect), and redirects (blob
/// storage backends) are followed, at most 10.
#[derive(Debug, Clone)]
pub struct Registry {
    /// The base URL without a trailing `/`; API paths (`/v2/...`) are
    /// appended.
    base: String,
    client: reqwest::Client,
}

/// A successful read: the body and the headers discovery uses.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The URL read.
    pub url: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub docker_content_digest: Option<String>,
    /// The `Link: <...>; rel="next"` target, resolved against `url`.
    pub next: Option<String>,
}

impl Registry {
    /// A registry at `base_url` (`http://host[:port][/path]`), with a client
    /// of this crate's making. `https://` is refused: this crate enables no
    /// TLS backend (pass a TLS-capable client to [`Registry::with_client`]).
    pub fn new(base_url: &str) -> Result<Self, OciError> {
        let base = normalize_base(base_url)?;
        if base.starts_with("https:") {
            return Err(OciError::InvalidRegistry {
                url: base_url.to_string(),
                reason: "https registries need a TLS-enabled HTTP client (Registry::with_client); this build speaks plain HTTP only".into(),
            });
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("provgraph-oci/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::InvalidRegistry {
                url: base_url.to_string(),
                reason: one_line(&format!("cannot build an HTTP client: {e}")),
            })?;
        Ok(Self { base, client })
    }

    /// A registry at `base_url` (`http://` or `https://`) reached with
    /// `client`: the caller's timeouts, proxies and TLS configuration.
    pub fn with_client(base_url: &str, client: reqwest::Client) -> Result<Self, OciError> {
        Ok(Self {
            base: normalize_base(base_url)?,
            client,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `<base>/v2/<repository>/<rest>`; both are validated by the callers.
    pub(crate) fn url(&self, repository: &str, rest: &str) -> String {
        format!("{}/v2/{repository}/{rest}", self.base)
    }

    /// GETs `url` reading at most `limit` bytes. `Ok(None)` when the
    /// registry answers one of `absent` (e.g. 404 for a missing tag).
    pub(crate) async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        limit: u64,
        absent: &[StatusCode],
    ) -> Result<Option<Fetched>, OciError> {
        let mut request = self.client.get(url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let mut response = request.send().await.map_err(|e| transport(url, e))?;
        let status = response.status();
        if absent.contains(&status) {
            return Ok(None);
        }
        match status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(OciError::Unauthorized {
                    url: url.to_string(),
                    status: status.as_u16(),
                });
            }
            StatusCode::NOT_FOUND => {
                return Err(OciError::NotFound {
                    url: url.to_string(),
                });
            }
            _ => {
                let detail = error_detail(&mut response).await;
                return Err(OciError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    detail,
                });
            }
        }
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let body = read_capped(url, &mut response, limit).await?;
        Ok(Some(Fetched {
            url: url.to_string(),
            body,
            content_type: header(&headers, CONTENT_TYPE.as_str()),
            docker_content_digest: header(&headers, "docker-content-digest"),
            next: next_link(&headers, &final_url),
        }))
    }

    /// The manifest or index tagged `tag`, `None` when the tag does not
    /// exist. When the registry names the content's digest
    /// (`Docker-Content-Digest`, SHA-256), the content must hash to it.
    pub(crate) async fn manifest_by_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<(Fetched, Document)>, OciError> {
        let url = self.url(repository, &format!("manifests/{tag}"));
        let Some(fetched) = self
            .get(
                &url,
                Some(media_types::MANIFEST_ACCEPT),
                MAX_MANIFEST_BYTES,
                &[StatusCode::NOT_FOUND],
            )
            .await?
        else {
            return Ok(None);
        };
        if let Some(named) = fetched
            .docker_content_digest
            .as_deref()
            .and_then(|d| parse_digest(d).ok())
        {
            verify_digest(&url, &named, &fetched.body)?;
        }
        let document = parse(&fetched)?;
        Ok(Some((fetched, document)))
    }

    /// The manifest or index with digest `digest` (canonical); it must hash
    /// to it, and be `size` bytes when a descriptor gave one. A missing
    /// manifest is [`OciError::NotFound`].
    pub(crate) async fn manifest_by_digest(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
    ) -> Result<(Fetched, Document), OciError> {
        let url = self.url(repository, &format!("manifests/{digest}"));
        if let Some(size) = size
            && size > MAX_MANIFEST_BYTES
        {
            return Err(OciError::TooLarge {
                url,
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let fetched = self
            .get(
                &url,
                Some(media_types::MANIFEST_ACCEPT),
                MAX_MANIFEST_BYTES,
                &[],
            )
            .await?
            .ok_or_else(|| OciError::NotFound { url: url.clone() })?;
        if let Some(size) = size {
            check_size(&url, size, fetched.body.len())?;
        }
        verify_digest(&url, digest, &fetched.body)?;
        let document = parse(&fetched)?;
        Ok((fetched, document))
    }

    /// The blob `descriptor` names, checked against its digest and size.
    /// Descriptors announcing more than [`MAX_BLOB_BYTES`], or naming a
    /// digest that is not SHA-256, are refused before any download.
    pub(crate) async fn blob(
        &self,
        repository: &str,
        descriptor: &Descriptor,
    ) -> Result<Vec<u8>, OciError> {
        let digest = descriptor.sha256().ok_or_else(|| OciError::Malformed {
            url: self.url(repository, "blobs/"),
            reason: format!("blob digest {:?} is not sha256:<64 hex>", descriptor.digest),
        })?;
        let url = self.url(repository, &format!("blobs/{digest}"));
        if descriptor.size > MAX_BLOB_BYTES {
            return Err(OciError::TooLarge {
                url,
                limit: MAX_BLOB_BYTES,
            });
        }
        // Read one byte past the announced size to notice a longer body.
        let fetched = self
            .get(&url, None, descriptor.size.saturating_add(1), &[])
            .await
            .map_err(|e| match e {
                OciError::TooLarge { url, .. } => OciError::SizeMismatch {
                    url,
                    expected: descriptor.size,
                    actual: descriptor.size.saturating_add(1),
                },
                other => other,
            })?
            .ok_or_else(|| OciError::NotFound { url: url.clone() })?;
        check_size(&url, descriptor.size, fetched.body.len())?;
        verify_digest(&url, &digest, &fetched.body)?;
        Ok(fetched.body)
    }
}

/// Parses a fetched manifest, naming its URL in errors.
pub(crate) fn parse(fetched: &Fetched) -> Result<Document, OciError> {
    parse_document(&fetched.body, fetched.content_type.as_deref()).map_err(|error| {
        OciError::Malformed {
            url: fetched.url.clone(),
            reason: error.to_string(),
        }
    })
}

fn check_size(url: &str, expected: u64, actual: usize) -> Result<(), OciError> {
    let actual = u64::try_from(actual).unwrap_or(u64::MAX);
    if actual == expected {
        Ok(())
    } else {
        Err(OciError::SizeMismatch {
            url: url.to_string(),
            expected,
            actual,
        })
    }
}

fn normalize_base(base_url: &str) -> Result<String, OciError> {
    let invalid = |reason: &str| OciError::InvalidRegistry {
        url: base_url.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(base_url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "credentials in the URL are not supported (authentication is not implemented yet)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn transport(url: &str, error: reqwest::Error) -> OciError {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    OciError::Transport {
        url: url.to_string(),
        message: one_line(&message),
    }
}

async fn read_capped(
    url: &str,
    response: &mut reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, OciError> {
    let too_large = || OciError::TooLarge {
        url: url.to_string(),
        limit,
    };
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let capacity = usize::try_from(announced.unwrap_or(0).min(limit)).unwrap_or(0);
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, e))? {
        let total = u64::try_from(body.len() + chunk.len()).unwrap_or(u64::MAX);
        if total > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `": CODE: message"` from a registry error answer (`{"errors": [...]}`),
/// or empty.
async fn error_detail(response: &mut reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if u64::try_from(body.len()).unwrap_or(u64::MAX) > MAX_ERROR_BYTES {
            return String::new();
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return String::new();
    };
    let Some(first) = value
        .get("errors")
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
    else {
        return String::new();
    };
    let code = first.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let message = first.get("message").and_then(|m| m.as_str()).unwrap_or("");
    let text = match (code.is_empty(), message.is_empty()) {
        (true, true) => return String::new(),
        (false, true) => code.to_string(),
        (true, false) => message.to_string(),
        (false, false) => format!("{code}: {message}"),
    };
    let text: String = one_line(&text).chars().take(300).collect();
    format!(": {text}")
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The `rel="next"` target of a `Link` header, resolved against `base`.
fn next_link(headers: &HeaderMap, base: &Url) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let Some(target) = parts.next().map(str::trim) else {
                continue;
            };
            let is_next = parts.any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next
                && let Some(target) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>'))
            {
                return base.join(target).ok().map(String::from);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn base_urls() {
        assert_eq!(
            Registry::new("http://127.0.0.1:5000").map(|r| r.base_url().to_string()),
            Ok("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            Registry::new("http://registry.local:5000/mirror/").map(|r| r.base_url().to_string()),
            Ok("http://registry.local:5000/mirror".into())
        );
        for bad in [
            "",
            "127.0.0.1:5000",
            "ftp://host",
            "http://user:pw@host",
            "http://host/?x=1",
            "http://host/#f",
            "https://ghcr.io",
        ] {
            let error = Registry::new(bad).expect_err(bad);
            assert!(
                matches!(error, OciError::InvalidRegistry { .. }),
                "{bad}: {error}"
            );
        }
        // With a caller's client, https is the caller's business.
        assert!(Registry::with_client("https://ghcr.io", reqwest::Client::new()).is_ok());
    }

    #[test]
    fn link_headers() {
        let base = Url::parse("http://r:5000/v2/a/referrers/sha256:00").expect("url");
        let mut headers = HeaderMap::new();
        assert_eq!(next_link(&headers, &base), None);
        headers.insert(
            LINK,
            HeaderValue::from_static("</v2/a/referrers/sha256:00?n=2&last=x>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&headers, &base).as_deref(),
            Some("http://r:5000/v2/a/referrers/sha256:00?n=2&last=x")
        );
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<http://r:5000/first>; rel=\"prev\", <http://r:5000/n>; rel=next",
            ),
        );
        assert_eq!(
            next_link(&headers, &base).as_deref(),
            Some("http://r:5000/n")
        );
    }

    #[tokio::test]
    async fn unreachable_registry_is_a_one_line_transport_error() {
        // A port nothing listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let registry = Registry::new(&format!("http://127.0.0.1:{port}")).expect("registry");
        let error = registry
            .discover("acme/calc", &format!("sha256:{}", "ab".repeat(32)))
            .await
            .expect_err("nothing listens");
        assert!(matches!(error, OciError::Transport { .. }), "{error}");
        let text = error.to_string();
        assert!(text.contains("/v2/acme/calc/manifests/sha256-"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
