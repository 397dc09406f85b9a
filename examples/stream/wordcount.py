#!/usr/bin/env python3
"""Example stream handler in Python: ac-worker --stream wordcount=examples/stream/wordcount.py

Stream mode keeps this process running for many tasks.  Each task arrives
as one JSON line on stdin:

    {"id": 7, "type": "wordcount", "attempt": 1, "data": {...}, "checkpoint": null}

and is answered with one JSON line on stdout, flushed at once:

    {"id": 7, "result": {...}}      the task completed
    {"id": 7, "error": "why"}       this attempt failed (retried if it has retries)

Before the answer a handler may write side-channel lines with the same id:
{"id": 7, "progress": 0.5}, {"id": 7, "log": "..."}, {"id": 7,
"usage": {"tokens": 812}}, {"id": 7, "checkpoint": {...}} (stored durably
before the next line is read, and handed back in "checkpoint" if the task
is run again).  At end of input, exit.  Anything on stderr ends up in the
task's error if this process dies mid-task.

This one counts the words and lines of data["text"].
"""
import json
import sys


def handle(task):
    data = task.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return {"error": 'wordcount: the task data needs a "text" string'}
    text = data["text"]
    lines = text.splitlines() or [""]
    words = 0
    for i, line in enumerate(lines):
        words += len(line.split())
        # Progress now and then, for long texts.
        if len(lines) > 1000 and i % 1000 == 0:
            say({"id": task["id"], "progress": i / len(lines)})
    return {"result": {"words": words, "lines": len(lines), "chars": len(text)}}


def say(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        task = json.loads(line)
        answer = handle(task)
        answer["id"] = task["id"]
        say(answer)


if __name__ == "__main__":
    main()
