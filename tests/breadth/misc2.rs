//! End-to-end tests: misc2 (placeholder, filled by its branch).
