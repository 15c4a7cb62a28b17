//! The audio-watching applications and functions (res_tonedetect, app_dtmfstore,
//! res_monitor, the frame-hook functions) driven through the media rig of `media_tests`.

use super::*;
use crate::media::tonedetect::tests::tones;

fn frames(s: &[i16]) -> Vec<Frame> {
    s.chunks(FRAME_SAMPLES)
        .map(|c| Frame::voice(c.to_vec()))
        .collect()
}

fn cadence(freqs: &[f64], on: u32, off: u32, times: u32) -> Vec<i16> {
    let mut s = Vec::new();
    for _ in 0..times {
        s.extend(tones(freqs, 3000.0, on));
        s.extend(vec![0; off as usize * 8]);
    }
    s
}

#[tokio::test]
async fn tone_detect_counts_hits_and_jumps_to_its_goto() {
    let mut r = rig("[t]\nexten => s,1,NoOp()\nexten => hit,1,NoOp()\n same => n(lbl),NoOp()\n");
    assert!(r
        .run("Set", "TONE_DETECT(1000,300,g(t,hit,lbl)r)=")
        .await
        .is_ok());
    let mut s = vec![0i16; 1600];
    s.extend(tones(&[1000.0], 6000.0, 600));
    s.extend(vec![0; 8000]);
    r.feed(frames(&s));
    // The hit interrupts the wait as an async goto does.
    assert_eq!(r.run("Wait", "10").await, Err(Hangup));
    assert_eq!(
        r.chan.shared.take_redirect(),
        Some(("t".into(), "hit".into(), 2))
    );
    let f = r.chan.pbx.funcs.get("TONE_DETECT").expect("TONE_DETECT");
    assert_eq!(f.read(&mut r.chan, "rx").as_deref(), Ok("1"));
    assert_eq!(f.read(&mut r.chan, "tx").as_deref(), Ok("0"));
    // r: what the channel hears is not watched.
    r.media
        .to_far
        .push_lossy(Frame::voice(tones(&[1000.0], 6000.0, 20)));
    assert!(r.run("Set", "TONE_DETECT(0,,x)=").await.is_ok());
    assert!(f.read(&mut r.chan, "rx").is_err());
    assert!(r.run("Set", "TONE_DETECT(abc)=").await.is_ok());
}

#[tokio::test]
async fn tone_detect_busy_option_jumps_on_a_busy_signal() {
    let mut r = rig("[t]\nexten => s,1,NoOp()\nexten => busy,1,NoOp()\n");
    assert!(r.run("Set", "TONE_DETECT(0,,bg(busy,1))=").await.is_ok());
    // As a driver pushes them: the hook sees every frame, read or not.
    for f in frames(&cadence(&[480.0, 620.0], 500, 500, 4)) {
        r.media.from_far.push_lossy(f);
    }
    assert_eq!(r.run("Wait", "10").await, Err(Hangup));
    assert_eq!(
        r.chan.shared.take_redirect(),
        Some(("t".into(), "busy".into(), 1))
    );
}

#[tokio::test]
async fn waitfortone_success_times_and_timeout() {
    let mut r = rig("");
    let mut s = tones(&[2600.0], 6000.0, 600);
    s.extend(vec![0; 1600]);
    s.extend(tones(&[2600.0], 6000.0, 600));
    r.feed(frames(&s));
    assert!(r.run("WaitForTone", "2600,500,10,2").await.is_ok());
    assert_eq!(r.var("WAITFORTONESTATUS").as_deref(), Some("SUCCESS"));
    r.feed(frames(&tones(&[2000.0], 6000.0, 1500)));
    assert!(r.run("WaitForTone", "2600,500,1").await.is_ok());
    assert_eq!(r.var("WAITFORTONESTATUS").as_deref(), Some("TIMEOUT"));
    assert!(r.run("WaitForTone", "abc").await.is_ok());
    assert_eq!(r.var("WAITFORTONESTATUS").as_deref(), Some("ERROR"));
    r.chan.shared.request_hangup(16);
    assert_eq!(r.run("WaitForTone", "2600").await, Err(Hangup));
    assert_eq!(r.var("WAITFORTONESTATUS").as_deref(), Some("HANGUP"));
}

#[tokio::test]
async fn tonescan_reports_busy_ringing_dtmf_and_timeout() {
    let mut r = rig("");
    r.feed(frames(&cadence(&[480.0, 620.0], 500, 500, 4)));
    assert!(r.run("ToneScan", ",10").await.is_ok());
    assert_eq!(r.var("TONESCANSTATUS").as_deref(), Some("BUSY"));
    let mut r = rig("");
    r.feed(frames(&cadence(&[440.0, 480.0], 2000, 4000, 1)));
    assert!(r.run("ToneScan", "us,10").await.is_ok());
    assert_eq!(r.var("TONESCANSTATUS").as_deref(), Some("RINGING"));
    let mut r = rig("");
    r.digits("5");
    assert!(r.run("ToneScan", ",10").await.is_ok());
    assert_eq!(r.var("TONESCANSTATUS").as_deref(), Some("DTMF"));
    r.feed(frames(&tones(&[2100.0], 3000.0, 1500)));
    assert!(r.run("ToneScan", ",1").await.is_ok());
    assert_eq!(
        r.var("TONESCANSTATUS").as_deref(),
        Some("TIMEOUT"),
        "fax only with f"
    );
}

#[tokio::test]
async fn storedtmf_appends_received_digits_up_to_the_maximum() {
    let mut r = rig("");
    r.chan.set_var("KEYS", "9");
    assert!(r.run("StoreDTMF", "RX,KEYS,3").await.is_ok());
    r.digits("1234");
    r.media
        .to_far
        .push_lossy(Frame::Dtmf('7', Duration::from_millis(80)));
    r.chan.serve_requests();
    assert_eq!(r.var("KEYS").as_deref(), Some("912"));
    assert!(r.run("StoreDTMF", "remove").await.is_ok());
    // TX: the digits the channel is sent.
    assert!(r.run("StoreDTMF", "TX,SENT").await.is_ok());
    assert!(r.run("SendDTMF", "42").await.is_ok());
    r.chan.serve_requests();
    assert_eq!(r.var("SENT").as_deref(), Some("42"));
}

#[tokio::test]
async fn monitor_writes_in_and_out_legs_and_renames_on_change() {
    let mut r = rig("");
    let said = loud(5, 0);
    assert!(r.run("Monitor", "wav,call1").await.is_ok());
    assert_eq!(r.var("MONITORED").as_deref(), Some("true"));
    r.voice(&said);
    r.sound("nine", &[9; FRAME_SAMPLES * 5]);
    assert!(r.run("Playback", "nine").await.is_ok());
    assert!(r.run("ChangeMonitor", "calls/renamed").await.is_ok());
    assert!(r.run("StopMonitor", "").await.is_ok());
    let mon = r.dir.path().join("spool/monitor");
    assert_eq!(read_back(&mon.join("calls/renamed-in.wav")), flat(&said));
    assert_eq!(
        read_back(&mon.join("calls/renamed-out.wav")),
        vec![9; FRAME_SAMPLES * 5]
    );
    assert!(!mon.join("call1-in.wav").exists());
    // m: one mixed file, legs removed; PauseMonitor leaves a gap out.
    assert!(r.run("Monitor", "wav,mixed,m").await.is_ok());
    r.voice(&said);
    assert!(r.run("Playback", "nine").await.is_ok());
    assert!(r.run("PauseMonitor", "").await.is_ok());
    r.voice(&said);
    assert!(r.run("Playback", "nine").await.is_ok());
    assert!(r.run("UnpauseMonitor", "").await.is_ok());
    assert!(r.run("StopMonitor", "").await.is_ok());
    let want: Vec<i16> = flat(&said).iter().map(|s| s.saturating_add(9)).collect();
    assert_eq!(read_back(&mon.join("mixed.wav")), want);
    assert!(!mon.join("mixed-in.wav").exists());
    assert!(!mon.join("mixed-out.wav").exists());
    // MONITOR_EXEC gets the three names; the legs stay.
    let out = r.dir.path().join("exec.txt");
    r.chan.set_var("MONITOR_EXEC", "echo");
    r.chan
        .set_var("MONITOR_EXEC_ARGS", &format!("extra > {}", out.display()));
    assert!(r.run("Monitor", "wav,ex,m").await.is_ok());
    r.voice(&said);
    assert!(r.run("StopMonitor", "").await.is_ok());
    let line = std::fs::read_to_string(&out).unwrap_or_default();
    let base = mon.join("ex");
    assert_eq!(
        line.trim(),
        format!("{b}-in.wav {b}-out.wav {b}.wav extra", b = base.display())
    );
    assert!(mon.join("ex-in.wav").exists());
    // i: no input leg; Monitor without arguments is an error only.
    assert!(r.run("Monitor", ",onlyout,i").await.is_ok());
    assert!(r.run("StopMonitor", "").await.is_ok());
    assert!(!mon.join("onlyout-in.wav").exists());
    assert!(mon.join("onlyout-out.wav").exists());
    assert!(r.run("Monitor", "").await.is_ok());
}

#[tokio::test]
async fn pitch_shift_tx_raises_a_prompts_frequency() {
    let mut r = rig("");
    r.sound("tone", &tones(&[500.0], 6000.0, 2000));
    assert!(r.run("Set", "PITCH_SHIFT(tx)=highest").await.is_ok());
    assert!(r.run("Playback", "tone").await.is_ok());
    let out = r.audio_out();
    let heard = &out[4000..];
    let p1000 = crate::media::tonedetect::power_of(heard, 1000.0);
    let p500 = crate::media::tonedetect::power_of(heard, 500.0);
    assert!(p1000 > 10.0 * p500, "1000 Hz {p1000} vs 500 Hz {p500}");
}
