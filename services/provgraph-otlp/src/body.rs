//! Request bodies read within a size and a time limit, and refused bodies
//! read to their end (up to a cap) before the refusal is sent, so that a
//! sender still writing its request reads the 413 instead of a connection
//! cut mid-request (a "lingering close", as nginx does it).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// After a refusal, at most this many more bytes of the body are read (and
/// dropped) so that the sender can read the answer.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// After a refusal, the rest of the body is read for at most this long.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Why a body was not read whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// More than the limit arrived.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The body did not arrive whole within the deadline.
    #[error("body not received within {0:?}")]
    TimedOut(Duration),
    /// The connection failed while the body was read.
    #[error("cannot read body: {0}")]
    Unreadable(String),
}

/// Reads `body` whole if it is at most `limit` bytes and arrives within
/// `deadline`. On a body over the limit, the rest is read and dropped (at
/// most [`LINGER_BYTES`] for at most [`LINGER_TIME`]) before the error is
/// returned; nothing over the limit is held.
pub async fn read_limited<B>(body: B, limit: usize, deadline: Duration) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut body = body;
    let mut out = BytesMut::new();
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| BodyError::Unreadable(err.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if out.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            out.extend_from_slice(&data);
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, read).await {
        Err(_) => Err(BodyError::TimedOut(deadline)),
        Ok(Ok(())) => Ok(out.freeze()),
        Ok(Err(err @ BodyError::TooLarge { .. })) => {
            drop(out);
            discard_rest(&mut body).await;
            Err(err)
        }
        Ok(Err(err)) => Err(err),
    }
}

/// Reads what is left of a refused `body` and drops it, at most
/// [`LINGER_BYTES`] for at most [`LINGER_TIME`].
pub async fn discard_rest<B>(body: &mut B)
where
    B: http_body::Body + Unpin,
{
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen += bytes::Buf::remaining(&data);
                if seen > LINGER_BYTES {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::{Full, StreamBody};

    type Chunk = Result<Frame<Bytes>, std::convert::Infallible>;

    fn chunks(
        n: usize,
        size: usize,
    ) -> StreamBody<futures::stream::Iter<std::vec::IntoIter<Chunk>>> {
        let frames: Vec<Chunk> = (0..n)
            .map(|_| Ok(Frame::data(Bytes::from(vec![b'x'; size]))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn reads_a_body_within_the_limit_whole() {
        let body = read_limited(chunks(4, 1000), 4000, LINGER_TIME).await;
        assert_eq!(body.map(|b| b.len()), Ok(4000));
        let body = read_limited(Full::new(Bytes::from_static(b"{}")), 2, LINGER_TIME).await;
        assert_eq!(body, Ok(Bytes::from_static(b"{}")));
    }

    #[tokio::test]
    async fn refuses_one_byte_over_the_limit() {
        let body = read_limited(chunks(4, 1000), 3999, LINGER_TIME).await;
        assert_eq!(body, Err(BodyError::TooLarge { limit: 3999 }));
    }

    #[tokio::test]
    async fn a_refused_body_is_read_to_its_end_up_to_the_cap() {
        let mut body = chunks(8, 1 << 20);
        discard_rest(&mut body).await;
        assert!(body.frame().await.is_none(), "8 MiB read to the end");

        let mut body = chunks(40, 1 << 20);
        discard_rest(&mut body).await;
        let mut left = 0;
        while body.frame().await.is_some() {
            left += 1;
        }
        assert_eq!(
            left,
            40 - LINGER_BYTES / (1 << 20) - 1,
            "reading stops past the cap"
        );
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        let pending = StreamBody::new(futures::stream::pending::<Chunk>());
        let body = read_limited(pending, 10, Duration::from_millis(50)).await;
        assert_eq!(body, Err(BodyError::TimedOut(Duration::from_millis(50))));
    }
}
