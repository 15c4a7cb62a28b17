//! parking: end-to-end tests (filled in by its change).
