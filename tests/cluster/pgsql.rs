//! End-to-end tests: PostgreSQL realtime (placeholder, filled by its branch).
