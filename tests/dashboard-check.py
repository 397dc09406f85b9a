#!/usr/bin/env python3
"""End-to-end check of the ac-status --serve page in headless Chromium.

Drives chromedriver over the W3C WebDriver HTTP protocol with urllib (no
selenium, no npm):

    dashboard-check.py --url http://127.0.0.1:PORT/ --task ID \
        --workers w1,w2 [--token TOKEN] [--screenshot PATH]

loads the page, waits until every worker named has a row, until task ID's
row says "completed" and the live event feed shows its task.completed,
and, with --token, enters the token and waits for the drain buttons.  It
submits nothing and changes nothing.  A PNG screenshot of the page is
saved to PATH at the end.  Exit 0 when every check passed, 1 when one
failed (with a line saying which on stderr), 2 on bad usage, 77 when
chromium or chromedriver is not installed.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM_FLAGS = [
    # This machine's network is closed: without these Chromium hangs on
    # connections of its own (updates, sync, QUIC probes).
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
]


class CheckFailed(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    """The few WebDriver commands this check needs."""

    def __init__(self, base):
        self.base = base
        self.session = None

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                reply = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                reply = json.load(e)
            except ValueError:
                raise CheckFailed("webdriver %s %s: HTTP %d" % (method, path, e.code))
            raise CheckFailed("webdriver %s %s: %s" % (
                method, path, reply.get("value", {}).get("message", e.code)))
        return reply.get("value")

    def start(self, chromium, profile):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_FLAGS + ["--user-data-dir=" + profile],
            },
        }}}
        value = self.call("POST", "/session", caps, timeout=60)
        self.session = value["sessionId"]

    def s(self, path):
        return "/session/%s%s" % (self.session, path)

    def get(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script, *args):
        return self.call("POST", self.s("/execute/sync"),
                         {"script": script, "args": list(args)})

    def find(self, css):
        value = self.call("POST", self.s("/element"),
                          {"using": "css selector", "value": css})
        return next(iter(value.values()))

    def on_element(self, css, command, body):
        """command on the element css names, found again when the page
        redrew it between the find and the command (it polls every 2 s)."""
        for attempt in range(5):
            try:
                return self.call("POST", self.s("/element/%s/%s" % (self.find(css), command)),
                                 body)
            except CheckFailed as e:
                if "stale element" not in str(e) or attempt == 4:
                    raise
                time.sleep(0.1)

    def type_into(self, css, text):
        self.on_element(css, "value", {"text": text})

    def click(self, css):
        self.on_element(css, "click", {})

    def console_errors(self):
        """The page's console errors so far (a CSP refusal, a script
        error), as chromedriver reports them."""
        entries = self.call("POST", self.s("/se/log"), {"type": "browser"}) or []
        return [e.get("message", "") for e in entries if e.get("level") == "SEVERE"]

    def screenshot(self, path):
        png = base64.b64decode(self.call("GET", self.s("/screenshot")))
        with open(path, "wb") as f:
            f.write(png)

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", self.s(""), timeout=10)
            except (CheckFailed, OSError):
                pass
            self.session = None


def wait_for(what, fn, timeout):
    """fn() until it returns something true; its value, or CheckFailed."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise CheckFailed("timed out after %ds waiting for %s (last: %r)" % (timeout, what, last))


def row_cell(wd, table, row_id, cell):
    return wd.js(
        "const r = document.querySelector('#' + arguments[0] + ' tbody tr[data-id=\"' +"
        " CSS.escape(arguments[1]) + '\"]');"
        "if (!r) return null;"
        "const c = r.querySelector(arguments[2]); return c ? c.textContent : '';",
        table, str(row_id), cell)


def run_checks(wd, args):
    wd.get(args.url)
    title = wd.js("return document.title;")
    if "ac" not in title:
        raise CheckFailed("page title is %r" % title)
    for w in args.workers:
        wait_for("worker %s in the workers table" % w,
                 lambda w=w: row_cell(wd, "workers", w, ".status"), args.timeout)
    wait_for("task %s to show completed" % args.task,
             lambda: row_cell(wd, "tasks", args.task, ".status") == "completed",
             args.timeout)
    wait_for("task.completed of task %s in the event feed" % args.task,
             lambda: wd.js("return !!document.querySelector("
                           "'#feed li[data-event=\"task.completed\"][data-task=\"' +"
                           " arguments[0] + '\"]');", str(args.task)),
             args.timeout)
    wait_for("the connection to show live",
             lambda: wd.js("return document.getElementById('conn').dataset.state;") == "live",
             args.timeout)
    # The detail panel: the task's JSON, shown as text.
    wd.click('#tasks tbody tr[data-id="%s"]' % args.task)
    detail = wait_for("task %s's JSON in the detail panel" % args.task,
                      lambda: (wd.js("return document.getElementById('detail-json').textContent;")
                               or "").strip().startswith("{") and
                      wd.js("return document.getElementById('detail-json').textContent;"),
                      args.timeout)
    if json.loads(detail).get("id") != int(args.task):
        raise CheckFailed("the detail panel shows another task: %s" % detail[:200])
    wd.click("#detail-close")
    errors = wd.console_errors()
    if errors:
        raise CheckFailed("the page logged errors: %s" % "; ".join(errors)[:2000])
    if args.token:
        buttons = wd.js("return document.querySelectorAll('button.drain, button.undo').length;")
        if buttons:
            raise CheckFailed("drain buttons shown before the token was given")
        wd.type_into("#token", args.token)
        wd.click("#unlock")
        wait_for("a drain (or undo) button for each worker",
                 lambda: wd.js("return document.querySelectorAll('button.drain, button.undo').length;")
                 >= len(args.workers), args.timeout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the dashboard's address")
    p.add_argument("--task", required=True, help="a task id that completes")
    p.add_argument("--workers", required=True, help="worker ids, comma-separated")
    p.add_argument("--token", help="the server's token: check the actions appear")
    p.add_argument("--screenshot", help="save a PNG of the page here")
    p.add_argument("--timeout", type=int, default=30, help="seconds per wait")
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    p.add_argument("--chromedriver",
                   default=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    args = p.parse_args()
    args.workers = [w for w in args.workers.split(",") if w]

    for prog in (args.chromium, args.chromedriver):
        if not (os.path.isfile(prog) and os.access(prog, os.X_OK)):
            print("dashboard-check: %s is not installed" % prog, file=sys.stderr)
            return 77

    profile = tempfile.mkdtemp(prefix="ac-chromium.")
    port = free_port()
    log = open(os.path.join(profile, "chromedriver.log"), "w")
    driver = subprocess.Popen([args.chromedriver, "--port=%d" % port],
                              stdout=log, stderr=subprocess.STDOUT)
    wd = WebDriver("http://127.0.0.1:%d" % port)
    rc = 1
    try:
        wait_for("chromedriver to answer", lambda: _ready(wd), 20)
        wd.start(args.chromium, os.path.join(profile, "profile"))
        try:
            run_checks(wd, args)
            rc = 0
        finally:
            # The picture is worth having even when a check failed.
            if args.screenshot:
                try:
                    wd.screenshot(args.screenshot)
                except (CheckFailed, OSError) as e:
                    print("dashboard-check: no screenshot: %s" % e, file=sys.stderr)
                    rc = 1
    except CheckFailed as e:
        print("dashboard-check: %s" % e, file=sys.stderr)
        try:
            print("dashboard-check: page text: %r" % wd.js(
                "return document.body.innerText.slice(0, 2000);"), file=sys.stderr)
        except (CheckFailed, OSError, TypeError):
            pass
    finally:
        wd.quit()
        driver.terminate()
        try:
            driver.wait(10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
    return rc


def _ready(wd):
    try:
        return (wd.call("GET", "/status", timeout=2) or {}).get("ready")
    except (CheckFailed, OSError):
        return False


if __name__ == "__main__":
    sys.exit(main())
