#!/usr/bin/env python3
"""Builds the table of every Asterisk 20 application and function in docs/compatibility.md.

Inputs (see contrib/compat/README.md):
  asterisk20.txt   `<source file> <application|function> name="X"` lines from Asterisk 20's
                   XML documentation (one per application and function);
  ferrisk-apps.txt and ferrisk-funcs.txt: names ferrisk registers (`core show applications`
                   and `core show functions` of a daemon with every module loaded);
  notes.txt        `Name | status | note` lines for partial and left-out items.
Prints the markdown section on stdout; with --write, replaces it in docs/compatibility.md.
"""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))


def read_lines(name):
    with open(os.path.join(here, name)) as f:
        return [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]


def module_of(path):
    base = os.path.basename(path)[:-2]
    if path.startswith("main/"):
        return "core (" + base + ")"
    return base + ".so"


ast = {}  # (kind, name) -> module
for line in read_lines("asterisk20.txt"):
    m = re.match(r'(\S+) <(application|function) name="([^"]+)"', line)
    if m:
        ast.setdefault((m.group(2), m.group(3)), module_of(m.group(1)))

fa = {l.strip().lower() for l in read_lines("ferrisk-apps.txt")}
ff = {l.strip().upper() for l in read_lines("ferrisk-funcs.txt")}
notes = {}
for line in read_lines("notes.txt"):
    name, status, note = [p.strip() for p in line.split("|", 2)]
    notes[name.lower()] = (status, note)

# Modules whose subject ferrisk leaves out on purpose (hardware or subsystems it has no
# counterpart for): their items are "n/a", with the reason.
NA = [
    (r"chan_dahdi|app_dahdi|sig_|DAHDI|SLA", "needs DAHDI telephony hardware"),
    (r"res_fax|app_fax|FAX", "fax is not supported"),
    (r"speech", "speech recognition is not supported"),
    (r"adsi|GetCPEID", "ADSI phones are not supported"),
    (r"stasis", "ARI/Stasis is not supported"),
    (r"pjsip|PJSIP", "ferrisk implements chan_sip, not chan_pjsip"),
    (r"iax|IAX", "IAX2 is not supported"),
    (r"odbc|ODBC", "ODBC is not supported (realtime: sqlite3, ldap)"),
    (r"smdi|SMDI", "SMDI is not supported"),
    (r"dundi|DUNDI", "DUNDi is not supported"),
    (r"app_alarmreceiver|app_sms|app_jack|app_mp3|app_osplookup|app_zapateller|app_flash|app_test|app_skel|app_ivrdemo|app_getcpeid|WaitForRing|app_externalivr|app_statsd|app_audiosocket|res_phoneprov|app_amd|app_mf|app_sf|app_tonescan",
     "not planned (hardware, demo or niche module)"),
]

rows = []
counts = {"yes": 0, "partial": 0, "no": 0, "n/a": 0}
for (kind, name), module in sorted(ast.items(), key=lambda kv: (kv[0][0], kv[0][1].lower())):
    have = (name.lower() in fa) if kind == "application" else (name.upper() in ff)
    status, note = notes.get(name.lower(), (None, ""))
    if status is None:
        if have:
            status = "yes"
        else:
            status = "no"
            for pat, why in NA:
                if re.search(pat, module, re.I) or re.search(pat, name):
                    status, note = "n/a", why
                    break
    counts[status] += 1
    rows.append((kind, name, module, status, note))

out = []
out.append("| Kind | Name | Asterisk module | ferrisk | What differs |")
out.append("|---|---|---|---|---|")
for kind, name, module, status, note in rows:
    out.append(f"| {'app' if kind == 'application' else 'function'} | `{name}` | {module} | {status} | {note} |")
apps = sum(1 for r in rows if r[0] == "application")
funcs = len(rows) - apps
text = (f"Asterisk 20 documents {apps} applications and {funcs} functions. Of them ferrisk has "
        f"{counts['yes']} as Asterisk documents them (yes) and {counts['partial']} with the "
        f"differences noted (partial); {counts['n/a']} belong to hardware or subsystems ferrisk "
        f"leaves out (n/a), and {counts['no']} are not there yet (no).\n\n" + "\n".join(out) + "\n")
if "--write" in sys.argv:
    doc = os.path.join(here, "..", "..", "docs", "compatibility.md")
    s = open(doc).read()
    head = "## Every Asterisk 20 application and function\n\n"
    intro = ("The list below is every application and function Asterisk 20 documents, made by\n"
             "`contrib/compat/table.py` (see its README) and checked by `tests/compat_table.rs`.\n"
             "*yes*: as Asterisk documents it; *partial*: what differs is noted; *n/a*: needs hardware\n"
             "or a subsystem ferrisk leaves out; *no*: not there yet.\n\n")
    a = s.index(head)
    b = s.find("\n## ", a + len(head))
    s = s[:a] + head + intro + text + ("" if b < 0 else s[b:])
    open(doc, "w").write(s)
else:
    sys.stdout.write(text)
