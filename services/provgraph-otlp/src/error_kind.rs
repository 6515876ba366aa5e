//! [`ErrorKind`]: the one place that says how a refusal is answered, as an
//! HTTP status, a gRPC code and whether `Retry-After` goes with it. The
//! collector's receivers and admission, the authentication gate and the
//! HTTP API all answer through it, so a kind means the same on every wire.

use http::StatusCode;

use crate::grpc_code;

/// Why a request was refused, independent of the wire it came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or cannot be read: 400 / INVALID_ARGUMENT.
    InvalidArgument,
    /// Over a size limit: 413 / RESOURCE_EXHAUSTED.
    TooLarge,
    /// A content type or encoding the receiver does not take: 415 /
    /// INVALID_ARGUMENT.
    UnsupportedMediaType,
    /// No valid bearer token: 401 / UNAUTHENTICATED.
    Unauthenticated,
    /// The receivers' shared byte budget is spent: 429 / UNAVAILABLE, with
    /// `Retry-After`.
    Overloaded,
    /// The store cannot take or answer it now: 503 / UNAVAILABLE, with
    /// `Retry-After`.
    Unavailable,
    /// A server-side failure that retrying will not fix: 500 / INTERNAL.
    Internal,
    /// What the request names does not exist (a lineage picture of an
    /// unknown node): 404 / NOT_FOUND.
    NotFound,
}

impl ErrorKind {
    /// Every kind, for tables and tests.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::InvalidArgument,
        ErrorKind::TooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::Unauthenticated,
        ErrorKind::Overloaded,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
        ErrorKind::NotFound,
    ];

    /// The HTTP status of an answer of this kind.
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// The gRPC status code (`google.rpc.Code`) of an answer of this kind,
    /// also the `code` of an OTLP/HTTP `google.rpc.Status` body.
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorKind::InvalidArgument | ErrorKind::UnsupportedMediaType => {
                grpc_code::INVALID_ARGUMENT
            }
            ErrorKind::TooLarge => grpc_code::RESOURCE_EXHAUSTED,
            ErrorKind::Unauthenticated => grpc_code::UNAUTHENTICATED,
            ErrorKind::Overloaded | ErrorKind::Unavailable => grpc_code::UNAVAILABLE,
            ErrorKind::Internal => grpc_code::INTERNAL,
            ErrorKind::NotFound => grpc_code::NOT_FOUND,
        }
    }

    /// Whether the sender should retry the same request later (OTLP
    /// exporters do for these), so that an HTTP answer carries
    /// `Retry-After`.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Overloaded | ErrorKind::Unavailable)
    }

    /// The `Retry-After` seconds an answer of this kind carries, given the
    /// configured delay: `Some` only for retryable kinds.
    pub fn retry_after(self, seconds: u32) -> Option<u32> {
        self.is_retryable().then_some(seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole mapping, one row per kind: what every edge answers.
    #[test]
    fn every_kind_maps_to_one_status_code_and_retry() {
        let table = [
            (ErrorKind::InvalidArgument, 400, 3, false),
            (ErrorKind::TooLarge, 413, 8, false),
            (ErrorKind::UnsupportedMediaType, 415, 3, false),
            (ErrorKind::Unauthenticated, 401, 16, false),
            (ErrorKind::Overloaded, 429, 14, true),
            (ErrorKind::Unavailable, 503, 14, true),
            (ErrorKind::Internal, 500, 13, false),
            (ErrorKind::NotFound, 404, 5, false),
        ];
        assert_eq!(table.len(), ErrorKind::ALL.len());
        for ((kind, status, code, retry), all) in table.into_iter().zip(ErrorKind::ALL) {
            assert_eq!(kind, all);
            assert_eq!(kind.http_status().as_u16(), status, "{kind:?}");
            assert_eq!(kind.grpc_code(), code, "{kind:?}");
            assert_eq!(kind.is_retryable(), retry, "{kind:?}");
            assert_eq!(kind.retry_after(7), retry.then_some(7), "{kind:?}");
        }
    }
}
