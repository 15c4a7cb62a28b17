//! SRTP and SRTCP (RFC 3711) for SDES-keyed calls (chan_sip `encryption=yes`, Asterisk's
//! res_srtp): the crypto suites `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32`
//! (RFC 4568 §6.2), session key derivation (§4.3, key derivation rate 0), AES counter mode
//! (§4.1.1, RustCrypto `aes`), HMAC-SHA1 authentication (§4.2, RustCrypto `hmac`/`sha1`), the rollover counter (§3.3.1) and a 128-packet
//! replay window (§3.3.2) per SSRC.
//!
//! Sans-IO: an [`SrtpContext`] protects or unprotects one packet per call, in place, and keeps
//! the per-stream state; it never touches a socket, a clock or the SDP (the `a=crypto:` lines
//! are `sip::sdp`'s business, sending and receiving is `media::session`'s). Nothing here
//! panics on short or garbage input: such a packet is an [`SrtpError`].
//!
//! A context is used in one direction: the sending side protects with our master key, the
//! receiving side unprotects with the far end's key (SDES gives each side its own key).

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// Master key length of the AES-128 suites (bytes).
pub const MASTER_KEY_LEN: usize = 16;
/// Master salt length (bytes).
pub const MASTER_SALT_LEN: usize = 14;
/// Key and salt, as carried base64-encoded in an SDES `inline:` parameter.
pub const MASTER_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
/// SRTCP's authentication tag is 80 bits in both suites (RFC 4568 §6.2.1, §6.2.2).
const SRTCP_TAG_LEN: usize = 10;
/// The E flag and 31-bit SRTCP index that follow an SRTCP packet's payload.
const SRTCP_INDEX_LEN: usize = 4;
/// Streams (SSRCs) a receiving context keeps state for; the least recently seen is forgotten.
const MAX_STREAMS: usize = 8;
/// Size of the replay window (packets).
const REPLAY_WINDOW: u64 = 128;

/// A crypto suite of RFC 4568 that ferrisk supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (the one everybody supports).
    AesCm128HmacSha1_80,
    /// The same with a 32-bit SRTP tag (SRTCP keeps 80 bits).
    AesCm128HmacSha1_32,
}

impl Suite {
    /// Every supported suite, in our preference order.
    pub const ALL: [Suite; 2] = [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32];

    /// The name used in `a=crypto:` lines.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// The suite of an `a=crypto:` name (case-sensitive, as RFC 4568 registers them).
    pub fn from_name(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Length of the SRTP authentication tag (bytes).
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// A master key and salt. Its `Debug` does not show the secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey {
    bytes: [u8; MASTER_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Key || salt, exactly [`MASTER_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<MasterKey> {
        Some(MasterKey {
            bytes: bytes.try_into().ok()?,
        })
    }

    /// A fresh key from the system's secure random source.
    pub fn random() -> MasterKey {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; MASTER_LEN];
        if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
            // The OS generator failing is not something to carry on from with a weak key.
            panic!("the system random generator failed");
        }
        MasterKey { bytes }
    }

    pub fn as_bytes(&self) -> &[u8; MASTER_LEN] {
        &self.bytes
    }

    fn key(&self) -> &[u8] {
        &self.bytes[..MASTER_KEY_LEN]
    }

    fn salt(&self) -> &[u8] {
        &self.bytes[MASTER_KEY_LEN..]
    }
}

/// The SDES keys of a call: each side protects what it sends with the key of its own
/// `a=crypto:` line, so we protect with `local` and unprotect with `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: Suite,
    pub local: MasterKey,
    pub remote: MasterKey,
}

impl SrtpKeys {
    pub fn new(suite: Suite, local: MasterKey, remote: MasterKey) -> SrtpKeys {
        SrtpKeys {
            suite,
            local,
            remote,
        }
    }

    /// The context that protects what we send.
    pub fn sender(&self) -> SrtpContext {
        SrtpContext::new(self.suite, &self.local)
    }

    /// The context that unprotects what we receive.
    pub fn receiver(&self) -> SrtpContext {
        SrtpContext::new(self.suite, &self.remote)
    }
}

/// Why a packet could not be protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("packet too short or malformed")]
    Malformed,
    #[error("authentication failed")]
    AuthFailed,
    #[error("replayed or too old packet")]
    Replay,
}

/// RFC 3711 §4.3.1 labels.
const LABEL_RTP_ENCRYPTION: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_ENCRYPTION: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

/// The AES-CM PRF of RFC 3711 §4.3.3 with key derivation rate 0: `out.len()` bytes of the
/// keystream for IV = (label · 2^48 XOR master salt) · 2^16 under the master key.
fn derive(master: &MasterKey, label: u8, out: &mut [u8]) {
    let cipher = Aes128::new(GenericArray::from_slice(master.key()));
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(master.salt());
    iv[7] ^= label;
    keystream_xor(&cipher, &iv, out);
}

/// XORs `data` with the AES-CM keystream starting at counter block `iv` (whose low 16 bits are
/// zero; a block counter of 16 bits covers 1 MiB, far beyond a datagram).
fn keystream_xor(cipher: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    const BATCH: usize = 16;
    let mut blocks = [GenericArray::<u8, aes::cipher::consts::U16>::default(); BATCH];
    let mut counter: u16 = 0;
    for chunk in data.chunks_mut(16 * BATCH) {
        let n = chunk.len().div_ceil(16);
        for b in blocks.iter_mut().take(n) {
            b.copy_from_slice(iv);
            let c = counter.to_be_bytes();
            b[14] ^= c[0];
            b[15] ^= c[1];
            counter = counter.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (d, k) in chunk.chunks_mut(16).zip(&blocks) {
            for (d, k) in d.iter_mut().zip(k.iter()) {
                *d ^= k;
            }
        }
    }
}

/// The derived keys of one of SRTP or SRTCP.
struct SessionKeys {
    cipher: Aes128,
    salt: [u8; MASTER_SALT_LEN],
    /// Keyed once; each packet's tag starts from a copy.
    auth: HmacSha1,
}

impl SessionKeys {
    fn derive(master: &MasterKey, labels: [u8; 3]) -> SessionKeys {
        let mut key = [0u8; MASTER_KEY_LEN];
        derive(master, labels[0], &mut key);
        let mut auth = [0u8; 20];
        derive(master, labels[1], &mut auth);
        let mut salt = [0u8; MASTER_SALT_LEN];
        derive(master, labels[2], &mut salt);
        SessionKeys {
            cipher: Aes128::new(GenericArray::from_slice(&key)),
            salt,
            auth: keyed(&auth),
        }
    }

    /// The counter-mode IV of a packet: salt · 2^16 XOR SSRC · 2^64 XOR index · 2^16.
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        for (i, b) in ssrc.to_be_bytes().into_iter().enumerate() {
            iv[4 + i] ^= b;
        }
        for (i, b) in index.to_be_bytes()[2..].iter().enumerate() {
            iv[8 + i] ^= b;
        }
        iv
    }

    fn crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        keystream_xor(&self.cipher, &self.iv(ssrc, index), data);
    }

    /// HMAC-SHA1 of `parts`, in order.
    fn tag(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.auth.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

fn keyed(key: &[u8]) -> HmacSha1 {
    // HMAC takes a key of any length: this cannot fail.
    match <HmacSha1 as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    }
}

/// Compares without an early exit, so the time taken tells nothing about the tag.
fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Replay window over packet indices (RFC 3711 §3.3.2).
#[derive(Debug, Clone, Copy, Default)]
struct ReplayWindow {
    /// Highest index accepted, once one was.
    top: Option<u64>,
    /// Bit i set: index `top - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    fn check(&self, index: u64) -> Result<(), SrtpError> {
        let Some(top) = self.top else {
            return Ok(());
        };
        if index > top {
            return Ok(());
        }
        let age = top - index;
        if age >= REPLAY_WINDOW || self.seen & (1u128 << age) != 0 {
            return Err(SrtpError::Replay);
        }
        Ok(())
    }

    fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => self.seen |= 1u128 << (top - index),
            Some(top) => {
                let shift = index - top;
                self.seen = if shift >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << shift
                } | 1;
                self.top = Some(index);
            }
            None => {
                self.seen = 1;
                self.top = Some(index);
            }
        }
    }
}

/// One SSRC's state: the rollover counter and highest sequence number (`s_l`), and the
/// replay window.
#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: u32,
    roc: u32,
    s_l: u16,
    replay: ReplayWindow,
}

impl Stream {
    fn new(ssrc: u32, seq: u16) -> Stream {
        Stream {
            ssrc,
            roc: 0,
            s_l: seq,
            replay: ReplayWindow::default(),
        }
    }

    /// RFC 3711 §3.3.1: the packet index of sequence number `seq`, `None` when it would lie
    /// before the stream's start.
    fn estimate(&self, seq: u16) -> Option<u64> {
        let (s_l, seq32) = (i32::from(self.s_l), i32::from(seq));
        let roc = if s_l < 32768 {
            if seq32 - s_l > 32768 {
                self.roc.checked_sub(1)?
            } else {
                self.roc
            }
        } else if s_l - 32768 > seq32 {
            self.roc.wrapping_add(1)
        } else {
            self.roc
        };
        Some((u64::from(roc) << 16) | u64::from(seq))
    }

    fn update(&mut self, index: u64) {
        if self.replay.top.is_none_or(|t| index > t) {
            self.roc = (index >> 16) as u32;
            self.s_l = index as u16;
        }
        self.replay.accept(index);
    }
}

/// Where an RTP header ends (fixed part, CSRCs, extension), if the packet is RTP version 2 and
/// the header fits in `len`.
fn rtp_header_len(pkt: &[u8], len: usize) -> Option<usize> {
    if len < 12 || pkt.len() < len || pkt[0] >> 6 != 2 {
        return None;
    }
    let mut end = 12 + 4 * usize::from(pkt[0] & 0x0F);
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(end + 2..end + 4)?;
        end += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    (end <= len).then_some(end)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// SRTP and SRTCP state of one direction of a call.
pub struct SrtpContext {
    suite: Suite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    /// Per-SSRC state, most recently used last.
    streams: Vec<Stream>,
    /// Next SRTCP index to send (31 bits).
    rtcp_index: u32,
    /// SRTCP replay window (receiving side; one for all SSRCs of the far end).
    rtcp_replay: ReplayWindow,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    pub fn new(suite: Suite, master: &MasterKey) -> SrtpContext {
        SrtpContext {
            suite,
            rtp: SessionKeys::derive(
                master,
                [LABEL_RTP_ENCRYPTION, LABEL_RTP_AUTH, LABEL_RTP_SALT],
            ),
            rtcp: SessionKeys::derive(
                master,
                [LABEL_RTCP_ENCRYPTION, LABEL_RTCP_AUTH, LABEL_RTCP_SALT],
            ),
            streams: Vec::new(),
            rtcp_index: 0,
            rtcp_replay: ReplayWindow::default(),
        }
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The state of `ssrc`, created from its first sequence number.
    fn stream(&mut self, ssrc: u32, seq: u16) -> &mut Stream {
        match self.streams.iter().position(|s| s.ssrc == ssrc) {
            // Already the most recent (the usual case: one stream a call).
            Some(i) if i + 1 == self.streams.len() => {}
            Some(i) => {
                let s = self.streams.remove(i);
                self.streams.push(s);
            }
            None => {
                if self.streams.len() >= MAX_STREAMS {
                    self.streams.remove(0);
                }
                self.streams.push(Stream::new(ssrc, seq));
            }
        }
        let last = self.streams.len() - 1;
        &mut self.streams[last]
    }

    /// RTP → SRTP: encrypts the payload of the RTP packet in `pkt` and appends the tag.
    pub fn protect_rtp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        let header = rtp_header_len(pkt, pkt.len()).ok_or(SrtpError::Malformed)?;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = be_u32(&pkt[8..12]);
        let stream = self.stream(ssrc, seq);
        let index = stream.estimate(seq).ok_or(SrtpError::Malformed)?;
        stream.update(index);
        let roc = (index >> 16) as u32;
        self.rtp.crypt(ssrc, index, &mut pkt[header..]);
        let tag = self.rtp.tag(&[pkt, &roc.to_be_bytes()]);
        pkt.extend_from_slice(&tag[..self.suite.rtp_tag_len()]);
        Ok(())
    }

    /// SRTP → RTP in place: checks the tag and the replay window, decrypts, and returns the
    /// length of the RTP packet now at the start of `pkt`. On error `pkt` is unchanged.
    pub fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.suite.rtp_tag_len();
        let len = pkt.len().checked_sub(tag_len).ok_or(SrtpError::Malformed)?;
        let header = rtp_header_len(pkt, len).ok_or(SrtpError::Malformed)?;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ssrc = be_u32(&pkt[8..12]);
        // A stream's state is only created or advanced by authentic packets.
        let known = self.streams.iter().find(|s| s.ssrc == ssrc).copied();
        let stream = known.unwrap_or_else(|| Stream::new(ssrc, seq));
        let index = stream.estimate(seq).ok_or(SrtpError::Replay)?;
        stream.replay.check(index)?;
        let roc = (index >> 16) as u32;
        let (body, tag) = pkt.split_at_mut(len);
        let expected = self.rtp.tag(&[body, &roc.to_be_bytes()]);
        if !tags_equal(&expected[..tag_len], tag) {
            return Err(SrtpError::AuthFailed);
        }
        self.rtp.crypt(ssrc, index, &mut body[header..]);
        self.stream(ssrc, seq).update(index);
        Ok(len)
    }

    /// RTCP → SRTCP: encrypts everything after the first header and SSRC, appends E || index
    /// and the 80-bit tag.
    pub fn protect_rtcp(&mut self, pkt: &mut Vec<u8>) -> Result<(), SrtpError> {
        if pkt.len() < 8 || pkt[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let ssrc = be_u32(&pkt[4..8]);
        let index = self.rtcp_index;
        self.rtcp_index = (self.rtcp_index + 1) & 0x7FFF_FFFF;
        self.rtcp.crypt(ssrc, u64::from(index), &mut pkt[8..]);
        pkt.extend_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.tag(&[pkt]);
        pkt.extend_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(())
    }

    /// SRTCP → RTCP in place: checks the tag and the replay window, decrypts (when the E flag
    /// says it is encrypted) and returns the length of the RTCP compound packet.
    pub fn unprotect_rtcp(&mut self, pkt: &mut [u8]) -> Result<usize, SrtpError> {
        let signed = pkt
            .len()
            .checked_sub(SRTCP_TAG_LEN)
            .filter(|&n| n >= 8 + SRTCP_INDEX_LEN)
            .ok_or(SrtpError::Malformed)?;
        if pkt[0] >> 6 != 2 {
            return Err(SrtpError::Malformed);
        }
        let len = signed - SRTCP_INDEX_LEN;
        let e_index = be_u32(&pkt[len..signed]);
        let index = u64::from(e_index & 0x7FFF_FFFF);
        self.rtcp_replay.check(index)?;
        let (body, tag) = pkt.split_at_mut(signed);
        let expected = self.rtcp.tag(&[body]);
        if !tags_equal(&expected[..SRTCP_TAG_LEN], tag) {
            return Err(SrtpError::AuthFailed);
        }
        if e_index & 0x8000_0000 != 0 {
            let ssrc = be_u32(&body[4..8]);
            self.rtcp.crypt(ssrc, index, &mut body[8..len]);
        }
        self.rtcp_replay.accept(index);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn b3_master() -> MasterKey {
        MasterKey::from_bytes(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
        ))
        .unwrap()
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let m = b3_master();
        let mut key = [0u8; 16];
        derive(&m, LABEL_RTP_ENCRYPTION, &mut key);
        assert_eq!(key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive(&m, LABEL_RTP_SALT, &mut salt);
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        // The RFC lists 94 bytes of the authentication keystream; SHA1 uses the first 20.
        let mut auth = [0u8; 94];
        derive(&m, LABEL_RTP_AUTH, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let cipher = Aes128::new(GenericArray::from_slice(&hex(
            "2B7E151628AED2A6ABF7158809CF4F3C",
        )));
        let keys = SessionKeys {
            cipher,
            salt: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap(),
            auth: keyed(b"x"),
        };
        let iv = keys.iv(0, 0);
        assert_eq!(iv.to_vec(), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
        let mut zeros = vec![0u8; 16 * 0xFF02];
        keys.crypt(0, 0, &mut zeros);
        let block = |i: usize| zeros[16 * i..16 * (i + 1)].to_vec();
        assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
        assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
        assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
        assert_eq!(block(0xFEFF), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
        assert_eq!(block(0xFF00), hex("362B7C3C6773516318A077D7FC5073AE"));
        assert_eq!(block(0xFF01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
    }

    #[test]
    fn hmac_sha1_matches_rfc2202() {
        let keys = SessionKeys {
            cipher: Aes128::new(GenericArray::from_slice(&[0; 16])),
            salt: [0; MASTER_SALT_LEN],
            auth: keyed(&[0x0b; 20]),
        };
        // Test case 1, fed in two parts as packet and ROC are.
        assert_eq!(
            keys.tag(&[b"Hi ", b"There"]).to_vec(),
            hex("b617318655057264e28bc0b6fb378c8ef146be00")
        );
    }

    fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn pair(suite: Suite) -> (SrtpContext, SrtpContext) {
        let k = MasterKey::random();
        (SrtpContext::new(suite, &k), SrtpContext::new(suite, &k))
    }

    #[test]
    fn rtp_round_trips_in_both_suites_across_a_rollover() {
        for suite in Suite::ALL {
            let (mut tx, mut rx) = pair(suite);
            for seq in (65530..=65535).chain(0..10) {
                let plain = rtp(seq, 0xCAFE, &[0xAB; 160]);
                let mut p = plain.clone();
                tx.protect_rtp(&mut p).unwrap();
                assert_eq!(p.len(), plain.len() + suite.rtp_tag_len());
                assert_ne!(p[12..172], plain[12..]);
                assert_eq!(p[..12], plain[..12]);
                let n = rx.unprotect_rtp(&mut p).unwrap();
                assert_eq!(&p[..n], &plain[..]);
            }
            assert_eq!(rx.streams[0].roc, 1);
            assert_eq!(tx.streams[0].roc, 1);
        }
    }

    #[test]
    fn the_rollover_counter_is_part_of_the_keystream_and_tag() {
        // Packets with the same sequence number before and after a wrap differ.
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut first = rtp(5, 1, &[0; 20]);
        tx.protect_rtp(&mut first).unwrap();
        for seq in (6..=65535).step_by(1000).chain([65535, 5]) {
            let mut p = rtp(seq, 1, &[0; 20]);
            tx.protect_rtp(&mut p).unwrap();
            if seq == 5 {
                assert_ne!(p, first);
            }
            rx.unprotect_rtp(&mut p).unwrap_or_default();
        }
    }

    #[test]
    fn header_extension_and_csrcs_stay_in_clear() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        // CC=1, X=1 with one extension word.
        let mut plain = vec![0x91, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9];
        plain.extend_from_slice(&[1, 2, 3, 4]); // CSRC
        plain.extend_from_slice(&[0xBE, 0xDE, 0, 1, 5, 6, 7, 8]); // extension
        plain.extend_from_slice(&[0x55; 40]);
        let mut p = plain.clone();
        tx.protect_rtp(&mut p).unwrap();
        assert_eq!(p[..24], plain[..24]);
        assert_ne!(p[24..64], plain[24..]);
        let n = rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(&p[..n], &plain[..]);
    }

    #[test]
    fn tampered_packets_and_wrong_keys_are_refused() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut p = rtp(1, 7, &[1; 160]);
        tx.protect_rtp(&mut p).unwrap();
        for i in [0, 2, 11, 12, 100, p.len() - 1] {
            let mut bad = p.clone();
            bad[i] ^= 0x01;
            assert!(rx.unprotect_rtp(&mut bad).is_err(), "byte {i}");
        }
        let mut other = SrtpContext::new(Suite::AesCm128HmacSha1_80, &MasterKey::random());
        assert_eq!(
            other.unprotect_rtp(&mut p.clone()),
            Err(SrtpError::AuthFailed)
        );
        // A suite mismatch is a wrong tag length: refused.
        let mut short = SrtpContext::new(Suite::AesCm128HmacSha1_32, &MasterKey::random());
        assert!(short.unprotect_rtp(&mut p.clone()).is_err());
        // The genuine packet still goes through after the forgeries.
        assert!(rx.unprotect_rtp(&mut p).is_ok());
    }

    #[test]
    fn replays_and_too_old_packets_are_refused_reordering_is_not() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_32);
        let packets: Vec<Vec<u8>> = (100..400)
            .map(|seq| {
                let mut p = rtp(seq, 3, &[seq as u8; 20]);
                tx.protect_rtp(&mut p).unwrap();
                p
            })
            .collect();
        // Out of order within the window is fine.
        assert!(rx.unprotect_rtp(&mut packets[5].clone()).is_ok());
        assert!(rx.unprotect_rtp(&mut packets[3].clone()).is_ok());
        assert!(rx.unprotect_rtp(&mut packets[4].clone()).is_ok());
        assert_eq!(
            rx.unprotect_rtp(&mut packets[4].clone()),
            Err(SrtpError::Replay)
        );
        assert!(rx.unprotect_rtp(&mut packets[299].clone()).is_ok());
        // 296 behind the newest: outside the 128-packet window.
        assert_eq!(
            rx.unprotect_rtp(&mut packets[2].clone()),
            Err(SrtpError::Replay)
        );
        assert!(rx.unprotect_rtp(&mut packets[200].clone()).is_ok());
        assert_eq!(
            rx.unprotect_rtp(&mut packets[299].clone()),
            Err(SrtpError::Replay)
        );
    }

    #[test]
    fn streams_of_several_ssrcs_are_kept_apart() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        for ssrc in 0..(MAX_STREAMS as u32 + 3) {
            for seq in [10, 11] {
                let mut p = rtp(seq, ssrc, &[0; 10]);
                tx.protect_rtp(&mut p).unwrap();
                assert!(rx.unprotect_rtp(&mut p).is_ok());
            }
        }
        assert_eq!(rx.streams.len(), MAX_STREAMS);
    }

    #[test]
    fn rtcp_round_trips_and_replays_are_refused() {
        for suite in Suite::ALL {
            let (mut tx, mut rx) = pair(suite);
            // A receiver report with one block.
            let mut plain = vec![0x81, 201, 0, 7, 0, 0, 0x12, 0x34];
            plain.extend_from_slice(&[0x42; 24]);
            let mut sent = Vec::new();
            for _ in 0..3 {
                let mut p = plain.clone();
                tx.protect_rtcp(&mut p).unwrap();
                assert_eq!(p.len(), plain.len() + 14);
                assert_eq!(p[..8], plain[..8]);
                assert_ne!(p[8..32], plain[8..]);
                sent.push(p);
            }
            for p in &sent {
                let mut q = p.clone();
                let n = rx.unprotect_rtcp(&mut q).unwrap();
                assert_eq!(&q[..n], &plain[..]);
            }
            assert_eq!(
                rx.unprotect_rtcp(&mut sent[1].clone()),
                Err(SrtpError::Replay)
            );
            let mut bad = sent[0].clone();
            bad[10] ^= 4;
            assert!(rx.unprotect_rtcp(&mut bad).is_err());
        }
    }

    #[test]
    fn garbage_and_short_input_is_an_error_never_a_panic() {
        let (mut tx, mut rx) = pair(Suite::AesCm128HmacSha1_80);
        let mut seed = 0x1234_5678u32;
        for len in 0..120 {
            for _ in 0..20 {
                let mut buf: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 17;
                        seed ^= seed << 5;
                        seed as u8
                    })
                    .collect();
                if len > 0 && seed & 1 == 0 {
                    buf[0] = 0x80 | (buf[0] & 0x3F);
                }
                let _ = rx.unprotect_rtp(&mut buf.clone());
                let _ = rx.unprotect_rtcp(&mut buf.clone());
                let mut v = buf.clone();
                let _ = tx.protect_rtp(&mut v);
                let mut v = buf;
                let _ = tx.protect_rtcp(&mut v);
            }
        }
        assert_eq!(rx.unprotect_rtp(&mut []), Err(SrtpError::Malformed));
        assert_eq!(
            rx.unprotect_rtcp(&mut [0x80; 21]),
            Err(SrtpError::Malformed)
        );
        // An extension length pointing past the end.
        let mut p = vec![0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xFF, 0xFF];
        assert_eq!(tx.protect_rtp(&mut p), Err(SrtpError::Malformed));
    }

    #[test]
    fn context_size() {
        // Printed for docs/performance.md's memory figures; sessions box their contexts.
        let n = std::mem::size_of::<SrtpContext>();
        eprintln!("SrtpContext {n} bytes");
        assert!(n <= 2048, "{n}");
    }

    #[test]
    fn suite_names() {
        assert_eq!(
            Suite::from_name("AES_CM_128_HMAC_SHA1_32"),
            Some(Suite::AesCm128HmacSha1_32)
        );
        assert_eq!(Suite::from_name("AES_256_CM_HMAC_SHA1_80"), None);
        assert_eq!(format!("{:?}", MasterKey::random()), "MasterKey(..)");
    }
}
