//! End-to-end tests: followme (placeholder, filled by its branch).
