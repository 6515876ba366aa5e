//! The COSE envelope: COSE_Sign1 (RFC 9052), tagged (18) as notation
//! writes it, or untagged; read by coset. The Sig_structure is built over
//! the protected header's bytes exactly as received.

use coset::cbor::value::Value;
use coset::iana::EnumI64 as _;
use coset::{
    CborSerializable as _, CoseSign1, Label, RegisteredLabel, RegisteredLabelWithPrivate,
    TaggedCborSerializable as _,
};

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, Alg, Attributes, EXPIRY, EnvelopeError, EnvelopeFormat, Parts,
    SIGNING_AGENT, SIGNING_SCHEME, SIGNING_TIME, TIMESTAMP_SIGNATURE,
};

/// The COSE header label of `x5chain` (RFC 9360).
const X5CHAIN: i64 = 33;

fn find<'a>(rest: &'a [(Label, Value)], name: &str) -> Option<&'a Value> {
    rest.iter().find_map(|(label, value)| match label {
        Label::Text(text) if text == name => Some(value),
        _ => None,
    })
}

/// An epoch-based date/time: tag 1 over an integer (a bare integer is
/// taken too).
fn time(rest: &[(Label, Value)], name: &str) -> Result<Option<i64>, EnvelopeError> {
    let Some(value) = find(rest, name) else {
        return Ok(None);
    };
    let inner = match value {
        Value::Tag(1, inner) => inner.as_ref(),
        other => other,
    };
    match inner {
        Value::Integer(n) => i64::try_from(i128::from(*n))
            .map(Some)
            .map_err(|_| EnvelopeError::new(format!("header {name} is out of range"))),
        _ => Err(EnvelopeError::new(format!(
            "header {name} is not an epoch date/time"
        ))),
    }
}

fn text(rest: &[(Label, Value)], name: &str) -> Result<Option<String>, EnvelopeError> {
    match find(rest, name) {
        None => Ok(None),
        Some(Value::Text(text)) => Ok(Some(text.clone())),
        Some(_) => Err(EnvelopeError::new(format!(
            "header {name} is not a text string"
        ))),
    }
}

fn chain_from(value: &Value) -> Result<Vec<Vec<u8>>, EnvelopeError> {
    match value {
        Value::Bytes(one) => Ok(vec![one.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::Bytes(der) => Ok(der.clone()),
                _ => Err(EnvelopeError::new(format!(
                    "x5chain[{index}] is not a byte string"
                ))),
            })
            .collect(),
        _ => Err(EnvelopeError::new("x5chain is neither bytes nor an array")),
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parts, EnvelopeError> {
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|e| EnvelopeError::new(format!("not a COSE_Sign1 message: {e}")))?;
    let protected = &sign1.protected.header;
    let unprotected = &sign1.unprotected;

    let alg = match &protected.alg {
        Some(RegisteredLabelWithPrivate::Assigned(alg)) => Alg::from_cose(alg.to_i64()),
        Some(RegisteredLabelWithPrivate::PrivateUse(label)) => Alg::from_cose(*label),
        _ => None,
    }
    .ok_or_else(|| {
        EnvelopeError::new(
            "the protected alg is missing or not one the Notary Project allows (PS256/384/512, ES256/384/512)",
        )
    })?;
    let content_type = match &protected.content_type {
        None => None,
        Some(RegisteredLabel::Text(text)) => Some(text.clone()),
        Some(RegisteredLabel::Assigned(format)) => Some(format!("CoAP format {}", format.to_i64())),
    };
    let crit = protected
        .crit
        .iter()
        .map(|label| match label {
            RegisteredLabelWithPrivate::Text(text) => text.clone(),
            RegisteredLabelWithPrivate::Assigned(param) => param.to_i64().to_string(),
            RegisteredLabelWithPrivate::PrivateUse(label) => label.to_string(),
        })
        .filter(|name| name != &X5CHAIN.to_string())
        .collect();
    let attributes = Attributes {
        signing_scheme: text(&protected.rest, SIGNING_SCHEME)?,
        signing_time: time(&protected.rest, SIGNING_TIME)?,
        authentic_signing_time: time(&protected.rest, AUTHENTIC_SIGNING_TIME)?,
        expiry: time(&protected.rest, EXPIRY)?,
        crit,
        has_crit: !protected.crit.is_empty(),
        content_type,
    };

    // x5chain in the unprotected header, or (allowed) the protected one.
    let x5chain = unprotected
        .rest
        .iter()
        .chain(protected.rest.iter())
        .find_map(|(label, value)| (label == &Label::Int(X5CHAIN)).then_some(value));
    let chain = match x5chain {
        Some(value) => chain_from(value)?,
        None => Vec::new(),
    };
    let timestamp = match find(&unprotected.rest, TIMESTAMP_SIGNATURE) {
        None => None,
        Some(Value::Bytes(token)) => Some(token.clone()),
        Some(_) => {
            return Err(EnvelopeError::new(format!(
                "{TIMESTAMP_SIGNATURE} is not a byte string"
            )));
        }
    };
    let signing_agent = text(&unprotected.rest, SIGNING_AGENT)?;
    let payload = sign1
        .payload
        .clone()
        .ok_or_else(|| EnvelopeError::new("the COSE_Sign1 payload is detached (nil)"))?;
    let signed_bytes = sign1.tbs_data(b"");
    Ok(Parts {
        format: EnvelopeFormat::Cose,
        alg,
        attributes,
        payload,
        signed_bytes,
        signature: sign1.signature.clone(),
        chain,
        timestamp,
        signing_agent,
    })
}
