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
