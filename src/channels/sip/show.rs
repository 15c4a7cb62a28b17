//! `sip show …` commands (filled in from the core's state).

use super::SipShared;
use crate::cli::CliState;
use std::sync::Arc;

pub fn register(_state: &Arc<CliState>, _sip: Arc<SipShared>) {}
