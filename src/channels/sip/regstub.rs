//! Temporary stand-in until the outbound registration client lands.
use crate::channels::sipconf::Registration;
use crate::sip::message::SipMessage;
use std::time::{Duration, Instant};

pub struct RegParams {
    pub contact_host: String,
    pub contact_port: u16,
    pub default_expiry: u32,
    pub register_timeout: Duration,
    pub register_attempts: u32,
    pub useragent: String,
}
pub struct RegClient;
impl RegClient {
    pub fn new(_r: &Registration, _p: RegParams) -> RegClient {
        RegClient
    }
    pub fn start(&mut self, _now: Instant) {}
    pub fn stop(&mut self, _now: Instant) {}
    pub fn poll_request(&mut self, _now: Instant) -> Option<SipMessage> {
        None
    }
    pub fn destination(&self) -> (String, u16) {
        (String::new(), 5060)
    }
    pub fn handle_response(&mut self, _r: &SipMessage, _now: Instant) {}
    pub fn handle_timeout(&mut self, _now: Instant) {}
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    pub fn on_timer(&mut self, _now: Instant) {}
}
