# sipp_summary STATFILE, shared by the SIPp load scripts (sourced).
# Print the last line's counters of a SIPp -trace_stat file: successful, failed, elapsed s.
sipp_summary() {
  python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h, last = rows[0], rows[-1]
get = lambda n: last[h.index(n)]
el = get('ElapsedTime(C)')
hh, mm, ss = el.split(':')
secs = int(hh) * 3600 + int(mm) * 60 + float(ss)
print(get('SuccessfulCall(C)'), get('FailedCall(C)'), f"{secs:.2f}")
PY
}
