//! Extension patterns and Asterisk's match precedence (placeholder API; being written).
use std::cmp::Ordering;

/// A compiled extension name: literal (`100`) or pattern (`_NXX.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub raw: String,
}

/// Result of matching a dialed string against a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// No match and cannot match with more digits.
    No,
    /// Exact/complete match.
    Exact,
}

impl Pattern {
    pub fn new(raw: &str) -> Result<Pattern, String> {
        Ok(Pattern {
            raw: raw.to_string(),
        })
    }
    pub fn is_pattern(&self) -> bool {
        self.raw.starts_with('_')
    }
    /// Complete match of `s`.
    pub fn matches(&self, s: &str) -> bool {
        self.raw == s
    }
    /// Could `s` followed by more digits match (s is a prefix of a possible match)?
    pub fn can_match(&self, s: &str) -> bool {
        self.raw.starts_with(s)
    }
    /// Would more digits still (or also) match: Asterisk's matchmore.
    pub fn match_more(&self, s: &str) -> bool {
        self.raw.len() > s.len() && self.raw.starts_with(s)
    }
    /// Asterisk precedence: Less = `self` wins over `other`.
    pub fn precedence(&self, other: &Pattern) -> Ordering {
        self.raw.cmp(&other.raw)
    }
}
