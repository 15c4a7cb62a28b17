//! End-to-end tests: ccss (placeholder, filled by its branch).
