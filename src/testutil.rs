//! Helpers shared by unit tests (compiled only for tests).

/// Deterministic xorshift64 generator for no-panic tests over pseudo-random input.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A string of fewer than `max_len` characters drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[char], max_len: u64) -> String {
        let len = self.next_u64() % max_len;
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize])
            .collect()
    }
}

/// A channel driver that records the messages it is asked to send (and can fail them).
pub struct FakeMsgDriver {
    pub name: &'static str,
    pub fail: bool,
    /// (message, to, from) per `send_message` call.
    pub sent: parking_lot::Mutex<Vec<(crate::pbx::message::Msg, String, String)>>,
}

impl FakeMsgDriver {
    pub fn new(name: &'static str, fail: bool) -> std::sync::Arc<FakeMsgDriver> {
        std::sync::Arc::new(FakeMsgDriver {
            name,
            fail,
            sent: parking_lot::Mutex::new(Vec::new()),
        })
    }
}

impl crate::channels::Driver for FakeMsgDriver {
    fn tech(&self) -> &'static str {
        self.name
    }
    fn request(
        &self,
        _pbx: &std::sync::Arc<crate::pbx::Pbx>,
        data: &str,
        _requester: Option<&crate::pbx::Channel>,
    ) -> Result<crate::channels::Outbound, crate::channels::RequestError> {
        Err(crate::channels::RequestError {
            cause: 66,
            msg: format!("fake driver cannot call '{data}'"),
        })
    }
}

impl crate::channels::MessageTech for FakeMsgDriver {
    fn name(&self) -> &'static str {
        self.name
    }
    fn send_message(
        &self,
        msg: &crate::pbx::message::Msg,
        to: &str,
        from: &str,
    ) -> Result<(), String> {
        if self.fail {
            return Err(format!("fake: cannot send to '{to}'"));
        }
        self.sent
            .lock()
            .push((msg.clone(), to.to_string(), from.to_string()));
        Ok(())
    }
}

// The size of the structures a call and a registration hold (issue 20), printed with
// `cargo test --lib sizes -- --nocapture` and kept in docs/performance.md ("Memory").
// The bounds are loose: they catch a structure that grows by accident (a copy of a
// message or of audio embedded where a reference was meant), not a field added on purpose.

#[test]
fn per_call_and_per_registration_structures() {
    use std::mem::size_of;
    let rows: &[(&str, usize, usize)] = &[
        ("pbx::Channel", size_of::<crate::pbx::Channel>(), 2048),
        (
            "channels::sip::core::Leg",
            size_of::<crate::channels::sip::core::Leg>(),
            2048,
        ),
        (
            "media::frame::Frame",
            size_of::<crate::media::frame::Frame>(),
            32,
        ),
        (
            "media::frame::Audio",
            size_of::<crate::media::frame::Audio>(),
            24,
        ),
        (
            "media::frame::MediaHandle",
            size_of::<crate::media::frame::MediaHandle>(),
            64,
        ),
        (
            "media::prompt::Prompt",
            size_of::<crate::media::prompt::Prompt>(),
            32,
        ),
        (
            "sip::transaction::Transaction",
            size_of::<crate::sip::transaction::Transaction>(),
            640,
        ),
        (
            "finished transaction (table entry)",
            crate::sip::transaction::FINISHED_SIZE,
            80,
        ),
        (
            "sip::registrar::Binding",
            size_of::<crate::sip::registrar::Binding>(),
            160,
        ),
        (
            "channels::sipconf::Peer",
            size_of::<crate::channels::sipconf::Peer>(),
            2048,
        ),
    ];
    for (name, size, bound) in rows {
        eprintln!("{name:40} {size:6} bytes");
        assert!(size <= bound, "{name} is {size} bytes, more than {bound}");
    }
}

/// A channel of no technology (`Test/1`) on a PBX with every module, for function and
/// application tests.
pub fn test_channel() -> crate::pbx::Channel {
    let pbx = crate::modules::test_pbx();
    crate::pbx::Channel::new(
        &pbx,
        "Test/1".into(),
        std::sync::Arc::new(crate::pbx::channel::NullTech),
    )
}
