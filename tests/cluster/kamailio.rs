//! End-to-end tests: Kamailio in front of ferrisk nodes (placeholder, filled by its branch).
