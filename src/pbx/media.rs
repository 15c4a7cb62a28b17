//! A channel's media as the core sees it: the frame types live in the media library
//! ([`crate::media::frame`]); the core re-exports them so channel code reads `pbx::media`.

pub use crate::media::frame::*;
