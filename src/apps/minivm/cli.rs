//! `minivm …` commands, shaped like app_minivm's: `minivm list accounts [for <domain>]`,
//! `minivm list templates`, `minivm list zones`, `minivm show settings`, `minivm show
//! stats`, `minivm reload`.

use super::config::MinivmConfig;
use super::Stats;
use crate::pbx::cli::{filter_prefix, CliError, CliResult, Command, CommandRegistry, Ctx};
use std::fmt::Write;

pub fn register(r: &CommandRegistry) {
    r.register(
        Command::new(
            "minivm list accounts",
            "List defined mini-voicemail boxes",
            "Usage: minivm list accounts [for <domain>]\n       Lists all mailboxes currently set up",
            list_accounts,
        )
        .complete_with(|st, args, p| match args.len() {
            0 => filter_prefix(vec!["for".to_string()], p),
            1 => {
                let c = super::of(&st.pbx).config();
                let mut d: Vec<String> = c.accounts.iter().map(|a| a.domain.clone()).collect();
                d.dedup();
                filter_prefix(d, p)
            }
            _ => vec![],
        }),
    );
    r.register(Command::new(
        "minivm list templates",
        "List message templates",
        "Usage: minivm list templates\n       Lists message templates for e-mail, paging and IM",
        list_templates,
    ));
    r.register(Command::new(
        "minivm list zones",
        "List zone message formats",
        "Usage: minivm list zones\n       Lists zone message formats",
        list_zones,
    ));
    r.register(Command::new(
        "minivm show settings",
        "Show mini-voicemail general settings",
        "Usage: minivm show settings\n       Display Mini-Voicemail general settings",
        show_settings,
    ));
    r.register(Command::new(
        "minivm show stats",
        "Show some mini-voicemail statistics",
        "Usage: minivm show stats\n       Display Mini-Voicemail counters",
        show_stats,
    ));
    r.register(Command::new(
        "minivm reload",
        "Reload Mini-voicemail configuration",
        "Usage: minivm reload\n       Reload mini-voicemail configuration and reset statistics",
        reload,
    ));
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

/// `minivm list accounts` (`Err`: the "none" message, a CLI failure).
pub fn accounts_table(c: &MinivmConfig, domain: Option<&str>) -> Result<String, String> {
    if c.accounts.is_empty() {
        return Err("There are no voicemail users currently defined\n".into());
    }
    let mut out = String::new();
    let row = |o: &mut String, cols: [&str; 6]| {
        let _ = writeln!(
            o,
            "{:<23} {:<15} {:<15} {:<10} {:<10} {:<50}",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]
        );
    };
    row(
        &mut out,
        [
            "User",
            "E-Template",
            "P-template",
            "Zone",
            "Format",
            "Full name",
        ],
    );
    row(
        &mut out,
        [
            "----",
            "----------",
            "----------",
            "----",
            "------",
            "---------",
        ],
    );
    let mut n = 0;
    for a in &c.accounts {
        if domain.is_some_and(|d| d != a.domain) {
            continue;
        }
        n += 1;
        let user = format!("{}@{}", a.username, a.domain);
        row(
            &mut out,
            [
                &user,
                or_dash(&a.etemplate),
                or_dash(&a.ptemplate),
                or_dash(&a.zonetag),
                or_dash(&a.attachfmt),
                &a.fullname,
            ],
        );
    }
    let _ = writeln!(out, "\n * Total: {n} minivoicemail accounts");
    Ok(out)
}

/// `minivm list templates`.
pub fn templates_table(c: &MinivmConfig) -> Result<String, String> {
    if c.templates.is_empty() {
        return Err("There are no message templates defined\n".into());
    }
    let mut out = String::new();
    let row = |o: &mut String, cols: [&str; 5]| {
        let subject: String = cols[3].chars().take(15).collect();
        let _ = writeln!(
            o,
            "{:<15} {:<10} {:<10} {:<15} {:<50}",
            cols[0], cols[1], cols[2], subject, cols[4]
        );
    };
    row(
        &mut out,
        [
            "Template name",
            "Charset",
            "Locale",
            "Attach media",
            "Subject",
        ],
    );
    row(
        &mut out,
        [
            "-------------",
            "-------",
            "------",
            "------------",
            "-------",
        ],
    );
    for t in &c.templates {
        row(
            &mut out,
            [
                &t.name,
                or_dash(&t.charset),
                or_dash(&t.locale),
                if t.attachment { "Yes" } else { "No" },
                or_dash(&t.subject),
            ],
        );
    }
    let _ = writeln!(
        out,
        "\n * Total: {} minivoicemail message templates",
        c.templates.len()
    );
    Ok(out)
}

/// `minivm list zones`.
pub fn zones_table(c: &MinivmConfig) -> Result<String, String> {
    if c.zones.is_empty() {
        return Err("There are no voicemail zones currently defined\n".into());
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<20} {:<45}",
        "Zone", "Timezone", "Message Format"
    );
    let _ = writeln!(
        out,
        "{:<15} {:<20} {:<45}",
        "----", "--------", "--------------"
    );
    for z in &c.zones {
        let _ = writeln!(
            out,
            "{:<15} {:<20} {:<45}",
            z.name, z.timezone, z.msg_format
        );
    }
    Ok(out)
}

/// `minivm show settings`.
pub fn settings_text(c: &MinivmConfig) -> String {
    let g = &c.general;
    let yn = |b: bool| if b { "Yes" } else { "No" };
    let mail = match g.smtp.host.as_deref().filter(|h| !h.is_empty()) {
        Some(h) => format!(
            "  SMTP server:                        {h}:{}\n",
            g.smtp.port.unwrap_or(25)
        ),
        None => String::new(),
    };
    format!(
        "* Mini-Voicemail general settings\n  -------------------------------\n\n\
         \x20 Mail command (shell):               {}\n{mail}\
         \x20 Max silence:                        {}\n\
         \x20 Silence threshold:                  {}\n\
         \x20 Max message length (secs):          {}\n\
         \x20 Min message length (secs):          {}\n\
         \x20 Default format:                     {}\n\
         \x20 Extern notify (shell):              {}\n\
         \x20 Logfile:                            {}\n\
         \x20 Operator exit:                      {}\n\
         \x20 Message review:                     {}\n\n",
        g.mailcmd,
        g.maxsilence_ms,
        g.silencethreshold,
        g.maxmessage,
        g.minmessage,
        g.format,
        g.externnotify,
        g.logfile
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<disabled>".into()),
        yn(g.operator),
        yn(g.review),
    )
}

const STATS_TIME: &str = "%a %b %e %r %Z %Y";

/// `minivm show stats`.
pub fn stats_text(c: &MinivmConfig, s: &Stats) -> String {
    let mut out = String::from("* Mini-Voicemail statistics\n  -------------------------\n\n");
    let _ = writeln!(
        out,
        "  Voicemail accounts:                  {:>5}",
        c.accounts.len()
    );
    let _ = writeln!(
        out,
        "  Templates:                           {:>5}",
        c.templates.len()
    );
    let _ = writeln!(
        out,
        "  Timezones:                           {:>5}",
        c.zones.len()
    );
    match s.last_received {
        Some(t) if s.received > 0 => {
            let _ = writeln!(out, "  Received messages since last reset:  {}", s.received);
            let _ = writeln!(
                out,
                "  Last received voicemail:             {}",
                t.format(STATS_TIME)
            );
        }
        _ => out.push_str("  Received messages since last reset:  <none>\n"),
    }
    let _ = writeln!(
        out,
        "  Last reset:                          {}",
        s.reset.format(STATS_TIME)
    );
    out.push('\n');
    out
}

fn failure(r: Result<String, String>) -> CliResult {
    r.map_err(CliError::Failure)
}

async fn list_accounts(c: Ctx) -> CliResult {
    let domain = match c.args.as_slice() {
        [] => None,
        [f, d] if f == "for" => Some(d.clone()),
        _ => return Err(CliError::ShowUsage),
    };
    failure(accounts_table(
        &super::of(c.pbx()).config(),
        domain.as_deref(),
    ))
}

async fn list_templates(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    failure(templates_table(&super::of(c.pbx()).config()))
}

async fn list_zones(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    failure(zones_table(&super::of(c.pbx()).config()))
}

async fn show_settings(c: Ctx) -> CliResult {
    Ok(settings_text(&super::of(c.pbx()).config()))
}

async fn show_stats(c: Ctx) -> CliResult {
    let m = super::of(c.pbx());
    Ok(stats_text(&m.config(), &m.stats()))
}

async fn reload(c: Ctx) -> CliResult {
    if !c.args.is_empty() {
        return Err(CliError::ShowUsage);
    }
    let p = c.pbx().clone();
    match tokio::task::spawn_blocking(move || super::reload(&p)).await {
        Ok(Ok(())) => Ok("\n-- Mini voicemail re-configured \n".into()),
        Ok(Err(text)) => Err(CliError::Failure(text)),
        Err(e) => Err(CliError::Failure(format!("{e}\n"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_as_asterisk_prints_them() {
        let (c, _) = super::super::config::parse_str(
            "[zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n\
             [template-en_US_email]\nsubject=New voicemail\ncharset=ascii\n\
             [anita@example.com]\nfullname=Anita Borg\netemplate=en_US_email\ntimezone=eastern\n\
             [bob@other.org]\n",
        )
        .unwrap();
        let t = accounts_table(&c, None).unwrap();
        let l: Vec<&str> = t.lines().collect();
        assert_eq!(l[0].trim_end(), "User                    E-Template      P-template      Zone       Format     Full name");
        assert_eq!(l[2].trim_end(), "anita@example.com       en_US_email     -               eastern    wav        Anita Borg");
        assert_eq!(
            l[3].trim_end(),
            "bob@other.org           -               -               -          wav"
        );
        assert!(t.ends_with("\n * Total: 2 minivoicemail accounts\n"));
        assert!(accounts_table(&c, Some("other.org"))
            .unwrap()
            .contains("Total: 1 "));
        let t = templates_table(&c).unwrap();
        let l: Vec<&str> = t.lines().collect();
        assert_eq!(
            l[0].trim_end(),
            "Template name   Charset    Locale     Attach media    Subject"
        );
        assert_eq!(
            l[2].trim_end(),
            "en_US_email     ascii      -          Yes             New voicemail"
        );
        assert!(t.contains("pager-default   ISO-8859-1 -          No "));
        assert!(t.ends_with("* Total: 3 minivoicemail message templates\n"));
        assert!(zones_table(&c)
            .unwrap()
            .contains("eastern         America/New_York     'vm-received'"));
        let d = MinivmConfig::defaults();
        assert_eq!(
            accounts_table(&d, None).unwrap_err(),
            "There are no voicemail users currently defined\n"
        );
        assert!(settings_text(&d)
            .contains("  Mail command (shell):               /usr/sbin/sendmail -t\n"));
        let s = Stats {
            reset: chrono::Local::now(),
            received: 0,
            last_received: None,
        };
        let st = stats_text(&c, &s);
        assert!(
            st.contains("  Voicemail accounts:                      2\n"),
            "{st}"
        );
        assert!(st.contains("  Received messages since last reset:  <none>\n"));
    }
}
