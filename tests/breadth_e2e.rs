//! End-to-end tests of Asterisk applications and functions (issue 17's breadth), against the
//! real daemon with SIPp/baresip phones. One binary, one module per area, so CI links and
//! starts it once.

mod common;

#[path = "breadth/agents.rs"]
mod agents;
#[path = "breadth/ccss.rs"]
mod ccss;
#[path = "breadth/dsp.rs"]
mod dsp;
#[path = "breadth/features.rs"]
mod features;
#[path = "breadth/followme.rs"]
mod followme;
#[path = "breadth/minivm.rs"]
mod minivm;
#[path = "breadth/misc.rs"]
mod misc;
#[path = "breadth/misc2.rs"]
mod misc2;
#[path = "breadth/parking.rs"]
mod parking;
#[path = "breadth/queue.rs"]
mod queue;
#[path = "breadth/sipapps.rs"]
mod sipapps;
#[path = "breadth/sipext.rs"]
mod sipext;
#[path = "breadth/spy.rs"]
mod spy;
