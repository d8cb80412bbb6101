//! Errors as people read them: the message and its causes on one line.

/// `error` and its `source()` chain joined with `: `, skipping a cause
/// whose text the message already contains.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
