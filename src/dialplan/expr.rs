//! `$[ ]` expressions (placeholder API; being written).

/// Evaluate an already-substituted expression. Err carries Asterisk's style of message.
pub fn evaluate(expr: &str) -> Result<String, String> {
    Ok(expr.trim().to_string())
}
