//! End-to-end tests: minivm (placeholder, filled by its branch).
