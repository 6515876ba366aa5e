//! Messages: an I/O error's reason in a few words (a multi-line error on
//! one line is `provgraph_model::one_line`).

/// An I/O error in a few words: the two everyone meets are named plainly.
pub(super) fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn reasons_and_lines() {
        assert_eq!(io_reason(&Error::from(ErrorKind::NotFound)), "no such file");
        assert_eq!(
            io_reason(&Error::from(ErrorKind::PermissionDenied)),
            "permission denied"
        );
        assert_eq!(io_reason(&Error::other("disk on fire")), "disk on fire");
    }
}
