//! The AGI protocol without sockets or processes: the `agi_*` environment block, command
//! lines split with res_agi's quoting rules, the command table (words, usage, whether a
//! command is allowed on a dead channel), the request target (`script`, `agi://…`), the
//! standard replies, and [`Session`], the state of one AGI conversation (dead mode, the
//! hangup notification, the final status). Everything here is fed strings and events and
//! answers with strings and decisions; `run.rs` does the talking.

/// At most this many words in a command line (res_agi's `MAX_ARGS`); more are dropped.
pub const MAX_ARGS: usize = 128;

/// FastAGI's default port.
pub const AGI_PORT: u16 = 4573;

/// The reply to a command nobody knows.
pub const INVALID: &str = "510 Invalid or unknown command\n";

/// The reply to a command not allowed on a hung-up channel.
pub const DEAD: &str = "511 Command Not Permitted on a dead channel or intercept routine\n";

/// Split a command line as res_agi does: words separated by spaces or tabs; double quotes
/// group (a quote at the start of a word starts a word, even an empty one: `""`); a
/// backslash makes the next character literal (`\"`, `\\`, `\ `).
pub fn parse_args(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut out: Vec<String> = Vec::new();
    let (mut quoted, mut escaped, mut space) = (false, false, true);
    let mut full = false;
    for c in line.chars() {
        match c {
            '"' if !escaped => {
                quoted = !quoted;
                if quoted && space {
                    full = out.len() >= MAX_ARGS;
                    if !full {
                        out.push(String::new());
                    }
                    space = false;
                }
            }
            ' ' | '\t' if !quoted && !escaped => space = true,
            '\\' if !escaped => escaped = true,
            c => {
                escaped = false;
                if space {
                    space = false;
                    full = out.len() >= MAX_ARGS;
                    if !full {
                        out.push(String::new());
                    }
                }
                if !full {
                    if let Some(w) = out.last_mut() {
                        w.push(c);
                    }
                }
            }
        }
    }
    out
}

/// One AGI command: its words, whether it may run on a hung-up channel (or with no
/// channel to talk to), a summary and the usage shown after `520-`.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub words: &'static [&'static str],
    pub dead: bool,
    pub summary: &'static str,
    pub usage: &'static str,
}

impl CommandSpec {
    /// The command's name, upper case (`STREAM FILE`).
    pub fn name(&self) -> String {
        self.words.join(" ").to_ascii_uppercase()
    }
}

macro_rules! cmd {
    ($words:expr, $dead:expr, $summary:expr, $usage:expr) => {
        CommandSpec {
            words: $words,
            dead: $dead,
            summary: $summary,
            usage: $usage,
        }
    };
}

/// Every command ferrisk answers, in `agi show commands` order.
pub static COMMANDS: &[CommandSpec] = &[
    cmd!(&["answer"], false, "Answer channel", " Usage: ANSWER\n\tAnswers channel if not already in answer state. Returns -1 on channel failure, or 0 if successful."),
    cmd!(&["asyncagi", "break"], true, "Interrupts Async AGI", " Usage: ASYNCAGI BREAK\n\tInterrupts expected flow of Async AGI commands and returns control to previous source (typically, the PBX dialplan)."),
    cmd!(&["channel", "status"], false, "Returns status of the connected channel.", " Usage: CHANNEL STATUS [<channelname>]\n\tReturns the status of the specified channelname. If no channel name is given then returns the status of the current channel. Return values: 0 down and available, 1 down but reserved, 2 off hook, 3 digits dialed, 4 ringing, 5 remote end ringing, 6 up, 7 busy."),
    cmd!(&["control", "stream", "file"], false, "Sends audio file on channel and allows the listener to control the stream.", " Usage: CONTROL STREAM FILE <filename> <escape_digits> [<skipms> [<ffchar> [<rewchr> [<pausechr> [<offsetms>]]]]]\n\tSend the given file, allowing playback to be controlled by the given digits, if any. Returns 0 if playback completes without a digit being pressed, the decimal value of the digit if one was pressed, or -1 on error or if the channel was disconnected. Sets CPLAYBACKSTATUS, CPLAYBACKOFFSET and CPLAYBACKSTOPKEY."),
    cmd!(&["database", "del"], true, "Removes database key/value", " Usage: DATABASE DEL <family> <key>\n\tDeletes an entry in the Asterisk database for a given family and key. Returns 1 if successful, 0 otherwise."),
    cmd!(&["database", "deltree"], true, "Removes database keytree/value", " Usage: DATABASE DELTREE <family> [<keytree>]\n\tDeletes a family or specific keytree within a family in the Asterisk database."),
    cmd!(&["database", "get"], true, "Gets database value", " Usage: DATABASE GET <family> <key>\n\tRetrieves an entry in the Asterisk database for a given family and key. Returns 0 if key is not set. Returns 1 if key is set and returns the variable in parenthesis."),
    cmd!(&["database", "put"], true, "Adds/updates database value", " Usage: DATABASE PUT <family> <key> <value>\n\tAdds or updates an entry in the Asterisk database for a given family, key, and value. Returns 1 if successful, 0 otherwise."),
    cmd!(&["exec"], true, "Executes a given Application", " Usage: EXEC <application> <options>\n\tExecutes application with given options. Returns whatever the application returns, or -2 on failure to find application."),
    cmd!(&["get", "data"], false, "Prompts for DTMF on a channel", " Usage: GET DATA <file to be streamed> [<timeout> [<maxdigits>]]\n\tStream the given file, and receive DTMF data. Returns the digits received from the channel at the other end."),
    cmd!(&["get", "full", "variable"], true, "Evaluates a channel expression", " Usage: GET FULL VARIABLE <expression> [<channelname>]\n\tEvaluates the given expression against the channel specified by channelname, or the current channel if channelname is not provided. Returns 0 if no channel is found, 1 if the expression evaluated, with the result in parenthesis."),
    cmd!(&["get", "option"], false, "Stream file, prompt for DTMF, with timeout.", " Usage: GET OPTION <filename> <escape_digits> [<timeout>]\n\tBehaves similar to STREAM FILE but used with a timeout option."),
    cmd!(&["get", "variable"], true, "Gets a channel variable.", " Usage: GET VARIABLE <variablename>\n\tReturns 0 if variablename is not set. Returns 1 if variablename is set and returns the variable in parentheses."),
    cmd!(&["gosub"], false, "Cause the channel to execute the specified dialplan subroutine.", " Usage: GOSUB <context> <extension> <priority> [<optional-argument>]\n\tCause the channel to execute the specified dialplan subroutine, returning to the dialplan with execution of a Return()."),
    cmd!(&["hangup"], false, "Hangup a channel.", " Usage: HANGUP [<channelname>]\n\tHangs up the specified channel. If no channel name is given, hangs up the current channel."),
    cmd!(&["noop"], true, "Does nothing.", " Usage: NOOP\n\tDoes nothing."),
    cmd!(&["receive", "char"], false, "Receives one character from channels supporting it.", " Usage: RECEIVE CHAR <timeout>\n\tReceives a character of text on a channel. Most channels do not support the reception of text. Returns the decimal value of the character if one is received, or 0 if the channel does not support text reception. Returns -1 only on error/hangup."),
    cmd!(&["receive", "text"], false, "Receives text from channels supporting it.", " Usage: RECEIVE TEXT <timeout>\n\tReceives a string of text on a channel. Most channels do not support the reception of text. Returns -1 for failure or 1 for success, and the string in parenthesis."),
    cmd!(&["record", "file"], false, "Records to a given file.", " Usage: RECORD FILE <filename> <format> <escape_digits> <timeout> [<offset samples>] [<BEEP>] [<s=silence>]\n\tRecord to a file until a given dtmf digit in the sequence is received. Returns -1 on hangup or error. The format will specify what kind of file will be recorded. The timeout is the maximum record time in milliseconds, or -1 for no timeout."),
    cmd!(&["say", "alpha"], false, "Says a given character string.", " Usage: SAY ALPHA <number> <escape_digits> [<case sensitivity>]\n\tSay a given character string, returning early if any of the given DTMF digits are received on the channel. Returns 0 if playback completes without a digit being pressed, or the ASCII numerical value of the digit if one was pressed or -1 on error/hangup."),
    cmd!(&["say", "digits"], false, "Says a given digit string.", " Usage: SAY DIGITS <number> <escape_digits>\n\tSay a given digit string, returning early if any of the given DTMF digits are received on the channel."),
    cmd!(&["say", "number"], false, "Says a given number.", " Usage: SAY NUMBER <number> <escape_digits> [<gender>]\n\tSay a given number, returning early if any of the given DTMF digits are received on the channel."),
    cmd!(&["say", "phonetic"], false, "Says a given character string with phonetics.", " Usage: SAY PHONETIC <string> <escape_digits>\n\tSay a given character string with phonetics, returning early if any of the given DTMF digits are received on the channel."),
    cmd!(&["say", "date"], false, "Says a given date.", " Usage: SAY DATE <date> <escape_digits>\n\tSay a given date (seconds since the UNIX epoch), returning early if any of the given DTMF digits are received on the channel."),
    cmd!(&["say", "time"], false, "Says a given time.", " Usage: SAY TIME <time> <escape_digits>\n\tSay a given time (seconds since the UNIX epoch), returning early if any of the given DTMF digits are received on the channel."),
    cmd!(&["say", "datetime"], false, "Says a given time as specified by the format given.", " Usage: SAY DATETIME <time> <escape_digits> [<format>] [<timezone>]\n\tSay a given time (seconds since the UNIX epoch), returning early if any of the given DTMF digits are received on the channel. Default format: ABdY 'digits/at' IMp."),
    cmd!(&["send", "image"], false, "Sends images to channels supporting it.", " Usage: SEND IMAGE <image>\n\tSends the given image on a channel. Most channels do not support the transmission of images. Returns 0 if image is sent, or if the channel does not support image transmission. Returns -1 only on error/hangup."),
    cmd!(&["send", "text"], false, "Sends text to channels supporting it.", " Usage: SEND TEXT <text to send>\n\tSends the given text on a channel. Most channels do not support the transmission of text. Returns 0 if text is sent, or if the channel does not support text transmission. Returns -1 only on error/hangup."),
    cmd!(&["set", "autohangup"], false, "Autohangup channel in some time.", " Usage: SET AUTOHANGUP <time>\n\tCause the channel to automatically hangup at time seconds in the future. Of course it can be hungup before then as well. Setting to 0 will cause the autohangup feature to be disabled on this channel."),
    cmd!(&["set", "callerid"], false, "Sets callerid for the current channel.", " Usage: SET CALLERID <number>\n\tChanges the callerid of the current channel."),
    cmd!(&["set", "context"], false, "Sets channel context.", " Usage: SET CONTEXT <desired context>\n\tSets the context for continuation upon exiting the application."),
    cmd!(&["set", "extension"], false, "Changes channel extension.", " Usage: SET EXTENSION <new extension>\n\tChanges the extension for continuation upon exiting the application."),
    cmd!(&["set", "music"], false, "Enable/Disable Music on hold generator", " Usage: SET MUSIC <on|off> [<class>]\n\tEnables/Disables the music on hold generator. If class is not specified, then the default music on hold class will be used. Always returns 0."),
    cmd!(&["set", "priority"], false, "Set channel dialplan priority.", " Usage: SET PRIORITY <priority>\n\tChanges the priority for continuation upon exiting the application. The priority must be a valid priority or label."),
    cmd!(&["set", "variable"], true, "Sets a channel variable.", " Usage: SET VARIABLE <variablename> <value>\n\tSets a variable to the current channel."),
    cmd!(&["stream", "file"], false, "Sends audio file on channel.", " Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]\n\tSend the given file, allowing playback to be interrupted by the given digits, if any. Returns 0 if playback completes without a digit being pressed, the ASCII numerical value of the digit if one was pressed, or -1 on error or if the channel was disconnected. If musiconhold is playing before calling stream file it will be automatically stopped and will not be restarted after completion."),
    cmd!(&["tdd", "mode"], false, "Toggles TDD mode (for the deaf).", " Usage: TDD MODE <on|off|mate|tdd>\n\tEnable/Disable TDD transmission/reception on a channel. Returns 1 if successful, or 0 if channel is not TDD-capable."),
    cmd!(&["verbose"], true, "Logs a message to the asterisk verbose log.", " Usage: VERBOSE <message> [<level>]\n\tSends message to the console via verbose message system. level is the verbose level (1-4). Always returns 1."),
    cmd!(&["wait", "for", "digit"], false, "Waits for a digit to be pressed.", " Usage: WAIT FOR DIGIT <timeout>\n\tWaits up to timeout milliseconds for channel to receive a DTMF digit. Returns -1 on channel failure, 0 if no digit is received in the timeout, or the numerical value of the ascii of the digit if one is received. Use -1 for the timeout value if you desire the call to block indefinitely."),
];

/// The command a line's words name: every word of the command matches the first words
/// (case-insensitive); the longest such command wins.
pub fn find_command(argv: &[String]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .filter(|c| {
            c.words.len() <= argv.len()
                && c.words
                    .iter()
                    .zip(argv)
                    .all(|(w, a)| a.eq_ignore_ascii_case(w))
        })
        .max_by_key(|c| c.words.len())
}

/// The command named exactly by `words` (`agi show commands topic …`).
pub fn find_exact(words: &[String]) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| {
        c.words.len() == words.len()
            && c.words
                .iter()
                .zip(words)
                .all(|(w, a)| a.eq_ignore_ascii_case(w))
    })
}

/// The reply to a command used wrongly: its usage between `520-` and `520 `.
pub fn usage_reply(c: &CommandSpec) -> String {
    if c.usage.is_empty() {
        return "520 Invalid command syntax.  Proper usage not available.\n".into();
    }
    format!(
        "520-Invalid command syntax.  Proper usage follows:\n{}\n520 End of proper usage.\n",
        c.usage
    )
}

/// The channel facts the script is told before the first command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    pub request: String,
    pub channel: String,
    pub language: String,
    pub tech: String,
    pub uniqueid: String,
    pub version: String,
    pub callerid: Option<String>,
    pub calleridname: Option<String>,
    pub callingpres: i32,
    pub callingani2: i32,
    pub callington: i32,
    pub callingtns: i32,
    pub dnid: Option<String>,
    pub rdnis: Option<String>,
    pub context: String,
    pub extension: String,
    pub priority: i32,
    pub enhanced: bool,
    pub accountcode: String,
    pub threadid: u64,
    /// `agi_arg_1` …
    pub args: Vec<String>,
}

fn or_unknown(v: &Option<String>) -> &str {
    match v.as_deref() {
        Some(s) if !s.is_empty() => s,
        _ => "unknown",
    }
}

impl Environment {
    /// The block res_agi sends, in its order, ending with the blank line.
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(512);
        let mut line = |k: &str, v: &str| {
            s.push_str("agi_");
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        };
        line("request", &self.request);
        line("channel", &self.channel);
        line("language", &self.language);
        line("type", &self.tech);
        line("uniqueid", &self.uniqueid);
        line("version", &self.version);
        line("callerid", or_unknown(&self.callerid));
        line("calleridname", or_unknown(&self.calleridname));
        line("callingpres", &self.callingpres.to_string());
        line("callingani2", &self.callingani2.to_string());
        line("callington", &self.callington.to_string());
        line("callingtns", &self.callingtns.to_string());
        line("dnid", or_unknown(&self.dnid));
        line("rdnis", or_unknown(&self.rdnis));
        line("context", &self.context);
        line("extension", &self.extension);
        line("priority", &self.priority.to_string());
        line("enhanced", if self.enhanced { "1.0" } else { "0.0" });
        line("accountcode", &self.accountcode);
        line("threadid", &self.threadid.to_string());
        for (i, a) in self.args.iter().enumerate() {
            line(&format!("arg_{}", i + 1), a);
        }
        s.push('\n');
        s
    }
}

/// What the first argument of AGI() names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A program: absolute, or relative to `astagidir`.
    Local(String),
    /// `agi://host[:port][/script]`: FastAGI.
    Fast {
        host: String,
        port: u16,
        /// Everything after the host's `/` (query included), sent as `agi_network_script`.
        script: String,
    },
    /// `hagi://…` (FastAGI found through SRV records): not supported.
    HighAvailability,
    /// `agi:async` (AsyncAGI through AMI): not supported.
    Async,
}

impl Target {
    /// Read the script argument; `None` for an `agi://` URL without a usable host or port.
    pub fn parse(s: &str) -> Option<Target> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("agi://") {
            return parse_url(&s[6..]);
        }
        if lower.starts_with("hagi://") {
            return Some(Target::HighAvailability);
        }
        if lower.starts_with("agi:async") {
            return Some(Target::Async);
        }
        Some(Target::Local(s.to_string()))
    }
}

fn parse_url(rest: &str) -> Option<Target> {
    let (hostport, script) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, p.parse().ok()?),
            None if after.is_empty() => (h, AGI_PORT),
            None => return None,
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, p.parse().ok()?),
            _ => (hostport, AGI_PORT),
        }
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    Some(Target::Fast {
        host: host.to_string(),
        port,
        script: script.to_string(),
    })
}

/// How an AGI ended (res_agi's `agi_result`), as printed in `… completed, returning N` and
/// stored in AGISTATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Failure,
    Success,
    NotFound,
    Hangup,
}

impl Outcome {
    /// The number res_agi prints.
    pub fn code(self) -> i32 {
        match self {
            Outcome::Failure => -1,
            Outcome::Success => 0,
            Outcome::NotFound => 3,
            Outcome::Hangup => 4,
        }
    }

    /// AGISTATUS.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Failure => "FAILURE",
            Outcome::Success => "SUCCESS",
            Outcome::NotFound => "NOTFOUND",
            Outcome::Hangup => "HANGUP",
        }
    }
}

/// What a command handler reported (res_agi's `RESULT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdResult {
    Success,
    /// Usually the channel hung up during the command.
    Failure,
    ShowUsage,
}

/// What to do with the hangup of the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnHangup {
    /// Send SIGHUP (a local script) or the `HANGUP` line (FastAGI).
    pub notify: bool,
    /// Leave the conversation (`AGIEXITONHANGUP`).
    pub stop: bool,
}

/// What to do with a line read from the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineAction {
    /// The script closed its side: the AGI is over.
    Finished,
    /// The script said `failure` (it could not be started).
    Failed,
    /// Run this command (`dead`: on a hung-up channel). An empty line has no words (and
    /// gets `510`, as in Asterisk).
    Command { argv: Vec<String>, dead: bool },
}

/// One AGI conversation's state.
#[derive(Debug, Clone)]
pub struct Session {
    /// The channel has hung up: only commands marked `dead` run.
    pub dead: bool,
    /// `AGISIGHUP` is not `no`.
    pub send_sighup: bool,
    /// `AGIEXITONHANGUP` is true.
    pub exit_on_hangup: bool,
    status: Outcome,
}

impl Session {
    /// `dead`: AGI() started on a channel already hung up.
    pub fn new(dead: bool, agisighup: Option<&str>, exitonhangup: Option<&str>) -> Session {
        Session {
            dead,
            send_sighup: !agisighup.is_some_and(crate::config::is_false),
            exit_on_hangup: exitonhangup.is_some_and(crate::config::is_true),
            status: Outcome::Success,
        }
    }

    /// The channel hung up (seen while waiting for a command).
    pub fn hangup(&mut self) -> OnHangup {
        if self.dead {
            return OnHangup::default();
        }
        self.dead = true;
        if self.status == Outcome::Success {
            self.status = Outcome::Hangup;
        }
        OnHangup {
            notify: self.send_sighup,
            stop: self.exit_on_hangup,
        }
    }

    /// A line from the script (`None`: end of file).
    pub fn line(&mut self, line: Option<&str>) -> LineAction {
        let Some(line) = line else {
            return LineAction::Finished;
        };
        if line.len() >= 7 && line[..7].eq_ignore_ascii_case("failure") {
            self.status = Outcome::Failure;
            return LineAction::Failed;
        }
        LineAction::Command {
            argv: parse_args(line),
            dead: self.dead,
        }
    }

    /// A command failed; `hung_up`: the channel is hung up now (then it is no failure of
    /// the script).
    pub fn command_failed(&mut self, hung_up: bool) {
        if self.dead || !hung_up {
            self.status = Outcome::Failure;
        }
    }

    pub fn outcome(&self) -> Outcome {
        self.status
    }
}

/// The reply for a digit result (`result=` carries its character code).
pub fn digit_code(d: char) -> i32 {
    d as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            parse_args("STREAM FILE hello \"\""),
            v(&["STREAM", "FILE", "hello", ""])
        );
        assert_eq!(
            parse_args("SET VARIABLE foo \"two words\""),
            v(&["SET", "VARIABLE", "foo", "two words"])
        );
        assert_eq!(
            parse_args("VERBOSE \"say \\\"hi\\\"\" 1"),
            v(&["VERBOSE", "say \"hi\"", "1"])
        );
        assert_eq!(parse_args("a\\ b  c\t d\n"), v(&["a b", "c", "d"]));
        assert_eq!(parse_args("x ab\"c d\"e"), v(&["x", "abc de"]));
        assert_eq!(parse_args("back\\\\slash"), v(&["back\\slash"]));
        assert_eq!(parse_args(""), Vec::<String>::new());
        assert_eq!(parse_args("NOOP\r\n"), v(&["NOOP"]));
        let many = "w ".repeat(200);
        assert_eq!(parse_args(&many).len(), MAX_ARGS);
    }

    #[test]
    fn commands_are_found_by_their_leading_words() {
        let c = find_command(&v(&["stream", "FILE", "x", "#"])).unwrap();
        assert_eq!(c.name(), "STREAM FILE");
        assert_eq!(
            find_command(&v(&["GET", "FULL", "VARIABLE", "${X}"]))
                .unwrap()
                .name(),
            "GET FULL VARIABLE"
        );
        assert_eq!(
            find_command(&v(&["get", "variable", "X"])).unwrap().name(),
            "GET VARIABLE"
        );
        assert!(find_command(&v(&["SET"])).is_none());
        assert!(find_command(&v(&["FROB", "NICATE"])).is_none());
        assert!(find_command(&[]).is_none());
        assert!(find_exact(&v(&["say", "number"])).is_some());
        assert!(find_exact(&v(&["say"])).is_none());
    }

    #[test]
    fn usage_reply_frames_the_usage() {
        let c = find_exact(&v(&["noop"])).unwrap();
        let r = usage_reply(c);
        assert!(r.starts_with("520-Invalid command syntax.  Proper usage follows:\n Usage: NOOP"));
        assert!(r.ends_with("\n520 End of proper usage.\n"));
    }

    #[test]
    fn environment_in_asterisk_order() {
        let e = Environment {
            request: "foo.sh".into(),
            channel: "Local/100@x-00000001;2".into(),
            language: "en".into(),
            tech: "Local".into(),
            uniqueid: "1.2".into(),
            version: "20".into(),
            callerid: Some("100".into()),
            calleridname: None,
            context: "x".into(),
            extension: "100".into(),
            priority: 2,
            threadid: 7,
            args: v(&["a", "b c"]),
            ..Default::default()
        };
        let t = e.text();
        let keys: Vec<&str> = t
            .lines()
            .map(|l| l.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            keys,
            [
                "agi_request",
                "agi_channel",
                "agi_language",
                "agi_type",
                "agi_uniqueid",
                "agi_version",
                "agi_callerid",
                "agi_calleridname",
                "agi_callingpres",
                "agi_callingani2",
                "agi_callington",
                "agi_callingtns",
                "agi_dnid",
                "agi_rdnis",
                "agi_context",
                "agi_extension",
                "agi_priority",
                "agi_enhanced",
                "agi_accountcode",
                "agi_threadid",
                "agi_arg_1",
                "agi_arg_2",
                ""
            ]
        );
        assert!(t.contains("agi_calleridname: unknown\n"));
        assert!(t.contains("agi_dnid: unknown\n"));
        assert!(t.contains("agi_enhanced: 0.0\n"));
        assert!(t.contains("agi_accountcode: \n"));
        assert!(t.contains("agi_arg_2: b c\n"));
        assert!(t.ends_with("\n\n"));
    }

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("foo.sh"),
            Some(Target::Local("foo.sh".into()))
        );
        assert_eq!(
            Target::parse("agi://127.0.0.1:4000/path/x?a=1&b=2"),
            Some(Target::Fast {
                host: "127.0.0.1".into(),
                port: 4000,
                script: "path/x?a=1&b=2".into()
            })
        );
        assert_eq!(
            Target::parse("AGI://host"),
            Some(Target::Fast {
                host: "host".into(),
                port: AGI_PORT,
                script: String::new()
            })
        );
        assert_eq!(
            Target::parse("agi://[::1]:99/s"),
            Some(Target::Fast {
                host: "::1".into(),
                port: 99,
                script: "s".into()
            })
        );
        assert_eq!(Target::parse("agi://host:notaport/x"), None);
        assert_eq!(Target::parse("agi://"), None);
        assert_eq!(Target::parse("hagi://x/y"), Some(Target::HighAvailability));
        assert_eq!(Target::parse("agi:async"), Some(Target::Async));
    }

    #[test]
    fn hangup_rules() {
        let mut s = Session::new(false, None, None);
        assert_eq!(
            s.line(Some("GET VARIABLE X")),
            LineAction::Command {
                argv: v(&["GET", "VARIABLE", "X"]),
                dead: false
            }
        );
        assert_eq!(
            s.hangup(),
            OnHangup {
                notify: true,
                stop: false
            }
        );
        // Only once.
        assert_eq!(s.hangup(), OnHangup::default());
        assert!(matches!(
            s.line(Some("NOOP")),
            LineAction::Command { dead: true, .. }
        ));
        assert_eq!(s.line(None), LineAction::Finished);
        assert_eq!(s.outcome(), Outcome::Hangup);
        assert_eq!(s.outcome().code(), 4);

        let mut s = Session::new(false, Some("no"), Some("yes"));
        assert_eq!(
            s.hangup(),
            OnHangup {
                notify: false,
                stop: true
            }
        );

        // A failed command on a live channel is a failure; one caused by a hangup is not.
        let mut s = Session::new(false, None, None);
        s.command_failed(true);
        assert_eq!(s.outcome(), Outcome::Success);
        s.command_failed(false);
        assert_eq!(s.outcome(), Outcome::Failure);
        // A failure stays a failure when the channel hangs up afterwards.
        s.hangup();
        assert_eq!(s.outcome().status(), "FAILURE");

        let mut s = Session::new(false, None, None);
        assert_eq!(s.line(Some("failure\n")), LineAction::Failed);
        assert_eq!(s.outcome(), Outcome::Failure);
        assert_eq!(
            s.line(Some("   ")),
            LineAction::Command {
                argv: vec![],
                dead: false
            }
        );
    }
}
