//! `sip show channelstats`: each SIP call leg's RTP counts and what RTCP says about them
//! (packets received and lost, jitter; packets sent, and the loss and jitter the far end
//! reports; round-trip time), in chan_sip's columns. Reads the live core; prints with
//! [`format_channelstats`], a pure function.

use super::core::Core;
use super::SipShared;
use crate::cli::format::{col, ess, hms_colon};
use crate::media::session::RtpStats;
use crate::pbx::cli::{CliError, Command, CommandRegistry, Ctx};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One line of `sip show channelstats`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStatsRow {
    /// The far end's address (no port).
    pub peer_addr: String,
    pub call_id: String,
    /// How long the leg's channel has existed; `None` for a leg without a channel.
    pub duration: Option<Duration>,
    pub stats: RtpStats,
}

/// chan_sip shows counts above 100,000 in thousands, marked `K`.
fn count(n: u64) -> (u64, &'static str) {
    if n > 100_000 {
        (n / 1000, "K")
    } else {
        (n, " ")
    }
}

/// `%-10.10u`: at least ten digits, zero padded (printf's precision on an integer).
fn digits10(n: u64) -> String {
    format!("{n:010}")
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// `%-6.4lf` of seconds.
fn secs(d: Duration) -> String {
    format!("{:<6.4}", d.as_secs_f64())
}

/// chan_sip's table: header, one row per leg, `N active SIP channel(s)`. ferrisk adds the
/// round-trip time as a last column (`-` before the far end's RTCP gave one).
pub fn format_channelstats(rows: &[ChannelStatsRow]) -> String {
    // FORMAT2 "%-15.15s  %-11.11s  %-8.8s %-10.10s  %-10.10s (     %%) %-6.6s %-10.10s
    //          %-10.10s (     %%) %-6.6s\n"
    let mut out = format!(
        "{}  {}  {} {}  {} (     %) {} {}  {} (     %) {} RTT\n",
        col("Peer", 15),
        col("Call ID", 11),
        col("Duration", 8),
        col("Recv: Pack", 10),
        col("Lost", 10),
        col("Jitter", 6),
        col("Send: Pack", 10),
        col("Lost", 10),
        col("Jitter", 6),
    );
    for r in rows {
        // FORMAT "%-15.15s  %-11.11s  %-8.8s %-10.10u%-1.1s %-10.10u (%5.2f%%) %-6.4lf
        //         %-10.10u%-1.1s %-10.10u (%5.2f%%) %-6.4lf\n"
        let s = &r.stats;
        let rx_lost = u64::try_from(s.rx_lost).unwrap_or(0);
        let tx_lost = s.tx_lost.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        let (rx, rx_k) = count(s.rx_packets);
        let (tx, tx_k) = count(s.tx_packets);
        let duration = r
            .duration
            .map(|d| hms_colon(d.as_secs()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {}  {} {}{} {} ({:5.2}%) {} {}{} {} ({:5.2}%) {} {}",
            col(&r.peer_addr, 15),
            col(&r.call_id, 11),
            col(&duration, 8),
            digits10(rx),
            rx_k,
            digits10(rx_lost),
            percent(rx_lost, s.rx_packets + rx_lost),
            secs(s.rx_jitter),
            digits10(tx),
            tx_k,
            digits10(tx_lost),
            percent(tx_lost, s.tx_packets),
            secs(s.tx_jitter.unwrap_or_default()),
            s.rtt
                .map_or_else(|| "-".to_string(), |d| format!("{:.4}", d.as_secs_f64())),
        );
    }
    let n = rows.len() as u64;
    let _ = writeln!(out, "{n} active SIP channel{}", ess(n));
    out
}

/// The rows: every leg with an RTP session, oldest first.
pub fn channelstats_view(core: &Core, now: Instant) -> Vec<ChannelStatsRow> {
    let mut rows: Vec<(Instant, ChannelStatsRow)> = core
        .legs()
        .filter_map(|l| {
            let stats = l.media.as_ref()?.stats()?;
            let row = ChannelStatsRow {
                peer_addr: l.remote.ip().to_string(),
                call_id: l.call_id.clone(),
                duration: core
                    .leg_channel(l)
                    .map(|_| now.saturating_duration_since(l.created)),
                stats,
            };
            Some((l.created, row))
        })
        .collect();
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|r| r.1).collect()
}

/// Register `sip show channelstats`.
pub fn register(r: &CommandRegistry, sip: Arc<SipShared>) {
    r.register(Command::new(
        "sip show channelstats",
        "List statistics for active SIP channels",
        "Usage: sip show channelstats\n       Lists all currently active SIP channel's RTCP statistics.\n       Note that calls in the much optimized RTP P2P bridge mode will not show any packets here.",
        move |c: Ctx| {
            let sip = sip.clone();
            async move {
                if !c.args.is_empty() {
                    return Err(CliError::ShowUsage);
                }
                let rows = sip.with(|core, now| channelstats_view(core, now));
                Ok(format_channelstats(&rows))
            }
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chan_sip_columns() {
        let rows = [
            ChannelStatsRow {
                peer_addr: "127.0.0.1".into(),
                call_id: "1-12345@127.0.0.1".into(),
                duration: Some(Duration::from_secs(3725)),
                stats: RtpStats {
                    rx_packets: 597,
                    rx_lost: 3,
                    rx_jitter: Duration::from_micros(1300),
                    tx_packets: 250_123,
                    tx_lost: Some(5),
                    tx_jitter: Some(Duration::from_micros(400)),
                    rtt: Some(Duration::from_micros(12_500)),
                    ..Default::default()
                },
            },
            ChannelStatsRow {
                peer_addr: "192.168.100.200".into(),
                call_id: "abc".into(),
                duration: None,
                stats: RtpStats::default(),
            },
        ];
        let out = format_channelstats(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Peer             Call ID      Duration Recv: Pack  Lost       (     %) Jitter \
             Send: Pack  Lost       (     %) Jitter RTT"
        );
        assert_eq!(
            lines[1],
            "127.0.0.1        1-12345@127  01:02:05 0000000597  0000000003 ( 0.50%) 0.0013 \
             0000000250K 0000000005 ( 0.00%) 0.0004 0.0125"
        );
        assert_eq!(
            lines[2],
            "192.168.100.200  abc                   0000000000  0000000000 ( 0.00%) 0.0000 \
             0000000000  0000000000 ( 0.00%) 0.0000 -"
        );
        assert_eq!(lines[3], "2 active SIP channels");
        assert!(format_channelstats(&[]).ends_with("0 active SIP channels\n"));
    }
}
