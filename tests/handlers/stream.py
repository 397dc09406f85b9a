#!/usr/bin/env python3
"""A stream handler for the tests: what it does with a task is said by the
task data's "op":

  echo      result {"data", "pid", "slot", "stream", "worker", "type",
            "attempt", "checkpoint"}
  fail      error "asked to fail"
  crash     writes "dying words" on stderr and exits 3 mid-task
  crash-once  crashes unless $AC_TEST_TMP/crashed-<id> exists (made first)
  sleep     sleeps data["s"] seconds, then answers like echo
  side      writes progress, log, usage and checkpoint lines, then answers
  bad       writes a line that is not JSON
  other     answers another task's id first, then its own
Every task line it reads is appended to $AC_TEST_TMP/stream-lines.
"""
import json
import os
import sys
import time

tmp = os.environ.get("AC_TEST_TMP", "/tmp")


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def echo(task):
    return {"data": task["data"], "pid": os.getpid(),
            "slot": os.environ.get("AC_SLOT"),
            "stream": os.environ.get("AC_STREAM"),
            "worker": os.environ.get("AC_WORKER_ID"),
            "type": task["type"], "attempt": task["attempt"],
            "checkpoint": task["checkpoint"],
            "task_id_env": os.environ.get("AC_TASK_ID")}


for line in sys.stdin:
    with open(os.path.join(tmp, "stream-lines"), "a") as f:
        f.write(line)
    task = json.loads(line)
    tid = task["id"]
    data = task["data"] if isinstance(task["data"], dict) else {}
    op = data.get("op", "echo")
    if op == "fail":
        say({"id": tid, "error": "asked to fail"})
    elif op == "crash" or (op == "crash-once" and
                           not os.path.exists(os.path.join(tmp, "crashed-%d" % tid))):
        open(os.path.join(tmp, "crashed-%d" % tid), "w").close()
        sys.stderr.write("dying words\n")
        sys.stderr.flush()
        os._exit(3)
    elif op == "sleep":
        time.sleep(float(data.get("s", 1)))
        say({"id": tid, "result": echo(task)})
    elif op == "side":
        say({"id": tid, "progress": 0.5})
        say({"id": tid, "log": "halfway"})
        say({"id": tid, "checkpoint": {"step": 2}})
        say({"id": tid, "result": echo(task), "usage": {"tokens": 7}})
    elif op == "bad":
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()
    elif op == "other":
        say({"id": tid + 1000, "result": "wrong"})
        say({"id": tid, "result": echo(task)})
    else:
        say({"id": tid, "result": echo(task)})
