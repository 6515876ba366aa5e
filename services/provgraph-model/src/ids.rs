//! The identifiers passed around most, as types that parse, not validate:
//! once a [`Digest`], [`CommitSha`] or [`TraceId`] exists it is well formed
//! and canonical (lower-case hex), so code that holds one checks nothing.
//!
//! Each is the only parser of its form in the workspace: `sha256:` digests
//! (image, index, blob), git commit SHAs, W3C trace ids and `traceparent`
//! headers. Key normalization ([`crate::keys`]) is built on them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::shorten;

/// Why a text is not the identifier it should be.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {expected}")]
pub struct IdError {
    /// The offending text, shortened to at most 100 characters.
    pub value: String,
    /// What was expected, e.g. `sha256:<64 hex>`.
    pub expected: &'static str,
}

impl IdError {
    fn new(value: &str, expected: &'static str) -> IdError {
        IdError {
            value: shorten(value, 100),
            expected,
        }
    }
}

/// Whether `text` is exactly `len` hex digits (either case).
fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Implements `Display`, `FromStr`, `AsRef<str>`, `String` conversions and
/// (through them) serde as a string for a newtype with `parse`.
macro_rules! text_id {
    ($name:ident) => {
        impl $name {
            /// The canonical text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(&text)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A SHA-256 content digest: `sha256:` and 64 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// What [`Digest::parse`] accepts, for messages.
    pub const FORM: &'static str = "sha256:<64 hex>";

    /// Parses `sha256:<64 hex>` (hex in either case, the prefix exactly as
    /// written, nothing around it) into its canonical lower-case form.
    pub fn parse(text: &str) -> Result<Digest, IdError> {
        text.strip_prefix("sha256:")
            .and_then(Digest::from_hex)
            .ok_or_else(|| IdError::new(text, Digest::FORM))
    }

    /// The digest whose hex part is `hex` (64 hex digits, either case).
    pub fn from_hex(hex: &str) -> Option<Digest> {
        is_hex(hex, 64).then(|| Digest(format!("sha256:{}", hex.to_ascii_lowercase())))
    }

    /// The digest of the 32 bytes a SHA-256 hasher produced (this crate
    /// hashes nothing itself).
    pub fn from_sha256(bytes: [u8; 32]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    /// The 64 hex digits after `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The 32 digest bytes.
    pub fn bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // A Digest holds 64 hex digits by construction.
        if hex::decode_to_slice(self.hex(), &mut out).is_err() {
            unreachable!("a Digest is 64 hex digits");
        }
        out
    }
}

text_id!(Digest);

/// A git commit SHA: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    /// What [`CommitSha::parse`] accepts, for messages.
    pub const FORM: &'static str = "a commit SHA (40 or 64 hex digits)";

    /// Parses 40 or 64 hex digits (either case, nothing around them).
    pub fn parse(text: &str) -> Result<CommitSha, IdError> {
        if is_hex(text, 40) || is_hex(text, 64) {
            Ok(CommitSha(text.to_ascii_lowercase()))
        } else {
            Err(IdError::new(text, CommitSha::FORM))
        }
    }
}

text_id!(CommitSha);

/// A W3C / OpenTelemetry trace id: 32 lower-case hex digits, not all zero.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceId(String);

impl TraceId {
    /// What [`TraceId::parse`] accepts, for messages.
    pub const FORM: &'static str = "a trace id (32 hex digits, not all zero)";

    /// Parses 32 hex digits (either case), not all zero.
    pub fn parse(text: &str) -> Result<TraceId, IdError> {
        if is_hex(text, 32) && text.bytes().any(|b| b != b'0') {
            Ok(TraceId(text.to_ascii_lowercase()))
        } else {
            Err(IdError::new(text, TraceId::FORM))
        }
    }

    /// The trace id of an OTLP span's 16 bytes, unless they are all zero.
    pub fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        bytes
            .iter()
            .any(|b| *b != 0)
            .then(|| TraceId(hex::encode(bytes)))
    }

    /// The 16 bytes.
    pub fn bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        if hex::decode_to_slice(&self.0, &mut out).is_err() {
            unreachable!("a TraceId is 32 hex digits");
        }
        out
    }

    /// The trace id a text names: a bare trace id, or the one inside a
    /// W3C `traceparent` (as a build signs it into an image's annotations).
    pub fn from_id_or_traceparent(text: &str) -> Option<TraceId> {
        TraceId::parse(text)
            .ok()
            .or_else(|| Traceparent::parse(text).ok().map(|parent| parent.trace_id))
    }
}

text_id!(TraceId);

/// A W3C `traceparent` header: `VERSION-TRACEID-SPANID-FLAGS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traceparent {
    pub trace_id: TraceId,
    /// The parent span id, 8 bytes, not all zero.
    pub span_id: [u8; 8],
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

impl Traceparent {
    /// What [`Traceparent::parse`] accepts, for messages.
    pub const FORM: &'static str = "00-<32 hex>-<16 hex>-<2 hex>";
    /// What a well-formed `traceparent` with an all-zero trace or span id
    /// is refused as (the specification makes such ids invalid).
    pub const NOT_ALL_ZERO: &'static str =
        "a traceparent whose trace and span ids are not all zero";

    /// Parses a `traceparent` (surrounding whitespace ignored). Version
    /// `ff` is invalid; version `00` has exactly four fields; a later
    /// version may append fields, which are ignored. All-zero trace or span
    /// ids are invalid.
    pub fn parse(text: &str) -> Result<Traceparent, IdError> {
        let bad = || IdError::new(text, Traceparent::FORM);
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [version, trace, span, flags, ..] = parts.as_slice() else {
            return Err(bad());
        };
        if !is_hex(version, 2) || *version == "ff" || (*version == "00" && parts.len() != 4) {
            return Err(bad());
        }
        if !is_hex(span, 16) || !is_hex(flags, 2) {
            return Err(bad());
        }
        if !is_hex(trace, 32) {
            return Err(bad());
        }
        let all_zero = || IdError::new(text, Traceparent::NOT_ALL_ZERO);
        let trace_id = TraceId::parse(trace).map_err(|_| all_zero())?;
        let mut span_id = [0u8; 8];
        hex::decode_to_slice(span, &mut span_id).map_err(|_| bad())?;
        if span_id == [0; 8] {
            return Err(all_zero());
        }
        let flags = u8::from_str_radix(flags, 16).map_err(|_| bad())?;
        Ok(Traceparent {
            trace_id,
            span_id,
            flags,
        })
    }
}

impl fmt::Display for Traceparent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id,
            hex::encode(self.span_id),
            self.flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digests() {
        let digest = Digest::parse(&format!("sha256:{}", HEX.to_ascii_uppercase())).unwrap();
        assert_eq!(digest.as_str(), format!("sha256:{HEX}"));
        assert_eq!(digest.hex(), HEX);
        assert_eq!(Digest::from_sha256(digest.bytes()), digest);
        assert_eq!(digest.to_string().parse::<Digest>(), Ok(digest.clone()));
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
        for bad in [
            HEX.to_string(),
            format!("sha512:{HEX}"),
            format!("SHA256:{HEX}"),
            format!(" sha256:{HEX}"),
            format!("sha256:{}", &HEX[1..]),
            format!("sha256:{HEX}0"),
            format!("sha256:{}g", &HEX[1..]),
            "sha256:é".to_string(),
        ] {
            let err = Digest::parse(&bad).unwrap_err();
            assert_eq!(err.expected, Digest::FORM, "{bad}");
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
    }

    #[test]
    fn commits_and_trace_ids() {
        assert_eq!(
            CommitSha::parse(&HEX[..40].to_ascii_uppercase()).unwrap(),
            &HEX[..40]
        );
        assert_eq!(CommitSha::parse(HEX).unwrap(), HEX);
        for bad in [&HEX[..39], &HEX[..41], "g".repeat(40).as_str(), ""] {
            assert!(CommitSha::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TraceId::parse(&HEX[..32]).unwrap(), &HEX[..32]);
        assert!(TraceId::parse(&"0".repeat(32)).is_err());
        assert!(TraceId::parse(&HEX[..31]).is_err());
        assert_eq!(TraceId::from_bytes([0; 16]), None);
        let trace = TraceId::from_bytes([0xab; 16]).unwrap();
        assert_eq!(trace.bytes(), [0xab; 16]);
        assert_eq!(trace.as_str(), "ab".repeat(16));
    }

    #[test]
    fn traceparents() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent = Traceparent::parse(text).unwrap();
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex::encode(parent.span_id), "00f067aa0ba902b7");
        assert_eq!(parent.flags, 1);
        assert_eq!(parent.to_string(), text);
        // A later version may append fields.
        assert!(Traceparent::parse(&format!("01{}-extra", &text[2..])).is_ok());
        for zero in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            assert_eq!(
                Traceparent::parse(zero).unwrap_err().expected,
                Traceparent::NOT_ALL_ZERO,
                "{zero}"
            );
        }
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "",
        ] {
            assert_eq!(
                Traceparent::parse(bad).unwrap_err().expected,
                Traceparent::FORM,
                "{bad}"
            );
        }
        assert_eq!(
            TraceId::from_id_or_traceparent(text).unwrap(),
            parent.trace_id
        );
        assert_eq!(
            TraceId::from_id_or_traceparent("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap(),
            parent.trace_id
        );
        assert_eq!(TraceId::from_id_or_traceparent("4bf92f35"), None);
    }
}
