//! End-to-end tests: sipext (placeholder, filled by its branch).
