//! The JWS envelope: JWS JSON serialization, flattened (RFC 7515 §7.2.2),
//! with `payload`, `protected`, `header` and `signature` and nothing else.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, Alg, Attributes, EXPIRY, EnvelopeError, EnvelopeFormat, Parts,
    SIGNING_AGENT, SIGNING_SCHEME, SIGNING_TIME, TIMESTAMP_SIGNATURE,
};
use super::time::parse_rfc3339;

/// Base64url without padding, as JWS writes it (padding tolerated).
fn base64url(what: &str, text: &str) -> Result<Vec<u8>, EnvelopeError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| EnvelopeError::new(format!("{what} is not base64url: {e}")))
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, EnvelopeError> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(EnvelopeError::new(format!("header {key} is not a string"))),
    }
}

fn time(object: &Map<String, Value>, key: &str) -> Result<Option<i64>, EnvelopeError> {
    string(object, key)?
        .map(|text| {
            parse_rfc3339(text).ok_or_else(|| {
                EnvelopeError::new(format!("header {key} {text:?} is not an RFC 3339 time"))
            })
        })
        .transpose()
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parts, EnvelopeError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| EnvelopeError::new(format!("JWS envelope is not JSON: {e}")))?;
    let Value::Object(envelope) = value else {
        return Err(EnvelopeError::new("JWS envelope is not a JSON object"));
    };
    for key in envelope.keys() {
        if !matches!(
            key.as_str(),
            "payload" | "protected" | "header" | "signature"
        ) {
            return Err(EnvelopeError::new(format!(
                "JWS envelope has a field {key:?} (only the flattened JSON serialization is allowed)"
            )));
        }
    }
    let field = |key: &str| {
        string(&envelope, key)?
            .ok_or_else(|| EnvelopeError::new(format!("JWS envelope has no {key}")))
    };
    let payload_text = field("payload")?;
    let protected_text = field("protected")?;
    let payload = base64url("payload", payload_text)?;
    let signature = base64url("signature", field("signature")?)?;
    let protected_bytes = base64url("protected header", protected_text)?;
    let protected: Map<String, Value> = match serde_json::from_slice(&protected_bytes) {
        Ok(Value::Object(map)) => map,
        _ => return Err(EnvelopeError::new("protected header is not a JSON object")),
    };

    let alg_text = string(&protected, "alg")?
        .ok_or_else(|| EnvelopeError::new("protected header has no alg"))?;
    let alg = Alg::from_jws(alg_text).ok_or_else(|| {
        EnvelopeError::new(format!(
            "alg {alg_text:?} is not one the Notary Project allows (PS256/384/512, ES256/384/512)"
        ))
    })?;
    let (crit, has_crit) = match protected.get("crit") {
        None => (Vec::new(), false),
        Some(Value::Array(items)) => {
            let mut names = Vec::new();
            for item in items {
                let name = item.as_str().ok_or_else(|| {
                    EnvelopeError::new("crit lists something that is not a string")
                })?;
                names.push(name.to_string());
            }
            (names, true)
        }
        Some(_) => return Err(EnvelopeError::new("crit is not an array")),
    };
    let attributes = Attributes {
        signing_scheme: string(&protected, SIGNING_SCHEME)?.map(str::to_string),
        signing_time: time(&protected, SIGNING_TIME)?,
        authentic_signing_time: time(&protected, AUTHENTIC_SIGNING_TIME)?,
        expiry: time(&protected, EXPIRY)?,
        crit,
        has_crit,
        content_type: string(&protected, "cty")?.map(str::to_string),
    };

    let header = match envelope.get("header") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(EnvelopeError::new(
                "JWS unprotected header is not an object",
            ));
        }
    };
    let chain = match header.get("x5c") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                item.as_str()
                    .and_then(|text| STANDARD.decode(text).ok())
                    .ok_or_else(|| {
                        EnvelopeError::new(format!("x5c[{index}] is not a base64 certificate"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(EnvelopeError::new("x5c is not an array")),
        None => Vec::new(),
    };
    let timestamp = match string(&header, TIMESTAMP_SIGNATURE)? {
        None => None,
        Some(text) => Some(STANDARD.decode(text).map_err(|e| {
            EnvelopeError::new(format!("{TIMESTAMP_SIGNATURE} is not base64: {e}"))
        })?),
    };
    let signing_agent = string(&header, SIGNING_AGENT)?.map(str::to_string);

    let mut signed_bytes = Vec::with_capacity(protected_text.len() + payload_text.len() + 1);
    signed_bytes.extend_from_slice(protected_text.as_bytes());
    signed_bytes.push(b'.');
    signed_bytes.extend_from_slice(payload_text.as_bytes());
    Ok(Parts {
        format: EnvelopeFormat::Jws,
        alg,
        attributes,
        payload,
        signed_bytes,
        signature,
        chain,
        timestamp,
        signing_agent,
    })
}
