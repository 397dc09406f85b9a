#!/usr/bin/python3
"""Differential test of lib/cron.c against python3-croniter.

    python3 tests/cron-oracle.py build/tests/test_cron

Makes ~1500 random five-field cron expressions (a fixed seed), each with a
start time in 2026-2030 and a zone, asks `test_cron --next` for the next
five firings, and compares them with croniter's.  Exit 0 when all agree;
any other difference prints the expression, zone, start and both answers,
and exits 1.  The last line is "cron oracle: N cases agree, M skipped
(REASON)".

Where croniter differs from ac by design or by a bug, the case is not
dropped silently, and is checked another way:

  - croniter decides the day-of-month/day-of-week OR rule by whether a
    field covers all its values; ac, like Vixie cron, by whether the field
    starts with `*` (so `*/2` counts as `*` and `1-31` does not).  Such a
    case is asked of croniter again with each field as the list of values
    ac reads and the rule chosen as ac chooses it, and must then agree; it
    counts as agreeing.

  - Across a daylight-saving change ac skips a local time that does not
    exist and fires a repeated one once, at its first occurrence (see
    lib/cron.h).  croniter moves a time in the spring gap forward, and
    after a change it shifts its answers by the change in offset since its
    start time (its "lag" adjustment), so it returns wall times that the
    expression does not match.  When a change of the zone lies between the
    last agreeing firing and the first difference, croniter is asked again
    in wall-clock time (a naive datetime), its wall times are put on the
    time line by ac's rule with zoneinfo, and that must agree with ac.
    These count as skipped (the comparison with croniter's own zone
    handling is skipped), with their reason.

  - croniter 1.3.5 looks for the next listed day of month without minding
    the month's length (from 24 February, with 31 listed, it lands on 3
    March and misses a firing on 1 March).  A case whose first difference
    is exactly such a missed firing, one that an independent check here
    finds to match the expression, is skipped and counted.
"""
import datetime
import os
import random
import subprocess
import sys

try:
    from croniter import croniter, CroniterBadDateError
except ImportError:
    # A python3 of pyenv or a venv can come first in PATH without Debian's
    # packages: run again under the system's, which has python3-croniter.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("cron oracle: python3-croniter is not installed (apt-get install python3-croniter)")
from zoneinfo import ZoneInfo

SEED = 20260101
CASES = 1500
FIRINGS = 5
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata",
         "Australia/Lord_Howe"]
EIGHT_YEARS = 2922 * 86400
UTC = datetime.timezone.utc

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
          "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# (low, high, names) of MIN HOUR DOM MON DOW; DOW runs to 7 (Sunday).
FIELDS = [(0, 59, None), (0, 23, None), (1, 31, None), (1, 12, MONTHS),
          (0, 7, DAYS)]


def word(rnd, v, field):
    """v as a number, or sometimes as a name in a random case."""
    lo, _, names = FIELDS[field]
    if names and v - lo < len(names) and rnd.random() < 0.4:
        name = names[v - lo]
        return rnd.choice([name, name.upper(), name.capitalize()])
    return str(v)


def item(rnd, field):
    """One list item: its text and its values (a day of week 7 still 7)."""
    lo, hi, _ = FIELDS[field]
    a = rnd.randint(lo, hi)
    b = rnd.randint(a, hi)
    step = rnd.randint(1, min(hi, 12))
    kind = rnd.choice(["n", "n", "range", "range", "star-step", "range-step",
                       "from-step"])
    if kind == "n":
        vals, text = [a], word(rnd, a, field)
    elif kind == "range":
        vals = list(range(a, b + 1))
        text = "%s-%s" % (word(rnd, a, field), word(rnd, b, field))
    elif kind == "star-step":
        vals = list(range(lo, hi + 1, step))
        text = "*/%d" % step
    elif kind == "range-step":
        vals = list(range(a, b + 1, step))
        text = "%s-%s/%d" % (word(rnd, a, field), word(rnd, b, field), step)
    else:
        vals = list(range(a, hi + 1, step))
        text = "%s/%d" % (word(rnd, a, field), step)
    return text, vals


def field_expr(rnd, field, restrict):
    """A field: `*` or a list of one to three items.  restrict is the
    chance of anything but a plain `*`."""
    if rnd.random() >= restrict:
        lo, hi, _ = FIELDS[field]
        vals = list(range(lo, hi + 1))
        return "*", vals
    texts, vals = [], set()
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        t, v = item(rnd, field)
        texts.append(t)
        vals.update(v)
    return ",".join(texts), sorted(vals)


def expression(rnd):
    # Mostly restricted minutes and hours, so that five firings span days
    # and months rather than minutes; DOM and DOW both restricted often
    # enough to test the OR rule.
    chances = [0.85, 0.7, 0.45, 0.3, 0.45]
    parts = [field_expr(rnd, i, chances[i]) for i in range(5)]
    text = " ".join(p[0] for p in parts)
    return text, parts


def ac_sets(parts):
    """The sets ac builds, and whether days need DOM and DOW both (AND)."""
    sets = [set(p[1]) for p in parts]
    if 7 in sets[4]:
        sets[4].discard(7)
        sets[4].add(0)
    both = parts[2][0].startswith("*") or parts[4][0].startswith("*")
    return sets, both


def differs_from_croniter(parts):
    """Whether croniter chooses the DOM/DOW rule otherwise than ac: it takes
    a field as `*` when its values cover the field (LEN_MEANS_ALL; a day of
    week 7 is 0 by then), ac when its text starts with `*`."""
    sets, both = ac_sets(parts)
    cr_both = len(sets[2]) == 31 or len(sets[4]) == 7
    return both != cr_both


def normalized(parts):
    """The expression as croniter must read it to mean what ac means, and
    the day_or to give croniter."""
    sets, both = ac_sets(parts)
    texts = []
    full = [60, 24, 31, 12, 7]
    for i, s in enumerate(sets):
        texts.append("*" if len(s) == full[i] else ",".join(map(str, sorted(s))))
    if not both and (texts[2] == "*" or texts[4] == "*"):
        # OR with one side matching every day: every day of the months.
        texts[2] = texts[4] = "*"
    return " ".join(texts), not both


def days_in_month(y, m):
    nxt = datetime.date(y + (m == 12), m % 12 + 1, 1)
    return (nxt - datetime.date(y, m, 1)).days


def short_month_overshoot(zone, parts, since_ms, missed_ms, got_ms):
    """croniter 1.3.5 looks for the next day of month in the list without
    minding the month's length: from the 24th of February with 31 in the
    list it adds 7 days and lands on 3 March, past a firing on 1 March.
    Whether missed_ms (a firing croniter passed over, for got_ms) is one
    of those: in the month after the one of since_ms, before the day the
    largest listed day overshoots to."""
    if missed_ms is None or (got_ms is not None and got_ms <= missed_ms):
        return False
    sets, _ = ac_sets(parts)
    tz = ZoneInfo(zone)
    since = datetime.datetime.fromtimestamp(since_ms / 1000.0, UTC).astimezone(tz)
    missed = datetime.datetime.fromtimestamp(missed_ms / 1000.0, UTC).astimezone(tz)
    length = days_in_month(since.year, since.month)
    over = max(sets[2]) - length
    following = (since.year + (since.month == 12), since.month % 12 + 1)
    return over > 0 and (missed.year, missed.month) == following and \
        missed.day <= over + 1


def ours(binary, expr, zone, after_ms, count):
    out = subprocess.run([binary, "--next", zone, expr, str(after_ms),
                          str(count)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("test_cron failed: %s" % out.stderr.strip())
    res = []
    for line in out.stdout.split():
        if line == "none":
            res.append(None)
            break
        res.append(int(line))
    return res


def theirs(expr, zone, after_ms, count, day_or=True):
    tz = ZoneInfo(zone)
    start = datetime.datetime.fromtimestamp(after_ms / 1000.0, tz=UTC).astimezone(tz)
    it = croniter(expr, start, day_or=day_or)
    res = []
    prev = after_ms // 1000
    for _ in range(count):
        try:
            t = it.get_next(float)
        except CroniterBadDateError:
            res.append(None)
            break
        # ac looks 8 years ahead, croniter 50: later than 8 years is none.
        if t - prev > EIGHT_YEARS:
            res.append(None)
            break
        res.append(int(round(t * 1000)))
        prev = t
    return res


def theirs_by_wall_clock(expr, zone, after_ms, count, day_or=True):
    """croniter's answers in wall-clock time (a naive datetime, so no zone
    arithmetic of croniter's own), put on the time line by ac's rule: a
    wall time in a gap is no firing, a repeated one fires at its first
    occurrence (zoneinfo's fold=0), and only once."""
    tz = ZoneInfo(zone)
    start = datetime.datetime.fromtimestamp(after_ms / 1000.0, UTC).astimezone(tz)
    it = croniter(expr, start.replace(tzinfo=None), day_or=day_or)
    res = []
    last = after_ms // 1000
    while len(res) < count:
        try:
            wall = it.get_next(datetime.datetime)
        except CroniterBadDateError:
            res.append(None)
            break
        first = wall.replace(tzinfo=tz, fold=0)
        if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
            continue  # in a gap
        t = int(first.timestamp())
        if t <= last:
            continue  # first happened before the start (or the last firing)
        if t - last > EIGHT_YEARS:
            res.append(None)
            break
        res.append(t * 1000)
        last = t
    return res


def transitions(zone):
    """The instants (unix s) at which zone changes its offset, 2025-2032."""
    tz = ZoneInfo(zone)
    out = []
    t = int(datetime.datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime.datetime(2032, 1, 1, tzinfo=UTC).timestamp())
    step = 1800
    last = datetime.datetime.fromtimestamp(t, tz).utcoffset()
    while t < end:
        off = datetime.datetime.fromtimestamp(t + step, tz).utcoffset()
        if off != last:
            out.append(t + step)
            last = off
        t += step
    return out


def follows_ac_rule(zone, parts, ms):
    """Whether an answer of ac is a firing by ac's rule: its wall time
    matches, and it is that wall time's first occurrence."""
    if ms is None:
        return True
    tz = ZoneInfo(zone)
    sets, both = ac_sets(parts)
    d = datetime.datetime.fromtimestamp(ms // 1000, UTC).astimezone(tz)
    dow = (d.weekday() + 1) % 7
    day = (d.day in sets[2] and dow in sets[4]) if both else \
        (d.day in sets[2] or dow in sets[4])
    if not (d.second == 0 and d.minute in sets[0] and d.hour in sets[1] and
            d.month in sets[3] and day):
        return False
    for back in (1800, 3600):
        e = datetime.datetime.fromtimestamp(ms // 1000 - back, UTC).astimezone(tz)
        if e.replace(tzinfo=None) == d.replace(tzinfo=None):
            return False
    return True


DST = ("across a daylight-saving change, where croniter's zone arithmetic "
       "differs from ac's rule; all agree with croniter's wall-clock times "
       "under ac's rule")


def show(what, expr, zone, after, a, b):
    tz = ZoneInfo(zone)

    def iso(ms):
        if ms is None:
            return "none"
        return datetime.datetime.fromtimestamp(ms / 1000.0, UTC).astimezone(tz).isoformat()

    print("%s %r in %s after %d (%s):" % (what, expr, zone, after, iso(after)))
    print("  %-8s %s" % ("ac", ", ".join(iso(x) for x in a)))
    print("  %-8s %s" % ("croniter", ", ".join(iso(x) for x in b)))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: cron-oracle.py path/to/test_cron")
    binary = sys.argv[1]
    rnd = random.Random(SEED)
    changes = {z: transitions(z) for z in ZONES}
    agree = 0
    normal = 0
    skipped = {}
    failed = 0
    lo = int(datetime.datetime(2026, 1, 1, tzinfo=UTC).timestamp()) * 1000
    hi = int(datetime.datetime(2031, 1, 1, tzinfo=UTC).timestamp()) * 1000
    for case in range(CASES):
        expr, parts = expression(rnd)
        zone = rnd.choice(ZONES)
        if changes[zone] and rnd.random() < 0.4:
            # Close before a daylight-saving change, to cross it, or just
            # after it (inside a repeated hour, say).
            t = rnd.choice([c for c in changes[zone] if c * 1000 < hi])
            after = t * 1000 - rnd.randint(-3 * 3600 * 1000, 3 * 86400 * 1000)
        else:
            after = rnd.randint(lo, hi)
        if rnd.random() < 0.5:
            after -= after % 1000
        a = ours(binary, expr, zone, after, FIRINGS)
        b = theirs(expr, zone, after, FIRINGS)
        if a == b:
            agree += 1
            continue
        if differs_from_croniter(parts):
            nexpr, day_or = normalized(parts)
            b2 = theirs(nexpr, zone, after, FIRINGS, day_or)
            if a == b2:
                agree += 1
                normal += 1
                continue
            b = b2
        # The first difference, and whether a change of the zone is near.
        i = next(k for k in range(max(len(a), len(b)))
                 if k >= len(a) or k >= len(b) or a[k] != b[k])
        since = a[i - 1] // 1000 if i else after // 1000
        upto = [x for x in (a[i] if i < len(a) else None,
                            b[i] if i < len(b) else None) if x is not None]
        upto = min(upto) // 1000 + 86400 if upto else since
        near = [c for c in changes[zone] if since - 86400 <= c <= upto]
        checked = all(follows_ac_rule(zone, parts, x) for x in a)
        if checked and short_month_overshoot(zone, parts, since * 1000,
                                             a[i] if i < len(a) else None,
                                             b[i] if i < len(b) else None):
            why = "croniter 1.3.5 overshoots a short month"
            skipped[why] = skipped.get(why, 0) + 1
            continue
        if near:
            expr2, day_or = normalized(parts) if differs_from_croniter(parts) \
                else (expr, True)
            b = theirs_by_wall_clock(expr2, zone, after, FIRINGS, day_or)
            if a == b:
                skipped[DST] = skipped.get(DST, 0) + 1
                if os.environ.get("ORACLE_VERBOSE"):
                    show("skip", expr, zone, after, a, b)
                continue
        failed += 1
        show("MISMATCH", expr, zone, after, a, b)
    if normal:
        print("cron oracle: %d of them agree once asked with croniter's "
              "DOM/DOW rule made ac's" % normal)
    reasons = "; ".join("%d %s" % (n, why) for why, n in sorted(skipped.items()))
    print("cron oracle: %d cases agree, %d skipped (%s)" % (
        agree, sum(skipped.values()), reasons or "none"))
    if failed:
        print("cron oracle: %d cases differ" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
