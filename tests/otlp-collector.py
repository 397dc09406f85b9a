#!/usr/bin/env python3
"""A tiny OTLP/HTTP JSON collector for the tests (tests/62-otel.bats).

    otlp-collector.py OUT [--status CODE] [--port-file FILE]

Listens on 127.0.0.1 on a free port, prints the port on stdout (and
writes it to FILE), and appends the body of each POST to OUT, one JSON
document a line (re-encoded compactly).  A POST that is not to
/v1/traces with Content-Type application/json is refused with 415 and
not recorded, as a real collector would not take it.  Every other POST
is answered with CODE (default 200; 503 plays a collector that is
failing: its bodies are still recorded, so tests can count the tries).
Runs until killed.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--port-file")
    args = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            ctype = self.headers.get("Content-Type", "")
            status = args.status
            if self.path != "/v1/traces" or \
                    ctype.split(";")[0].strip() != "application/json":
                status = 415
            else:
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {"unparsed": body.decode("utf-8", "replace")}
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(doc, separators=(",", ":")) + "\n")
            reply = b"{}" if status < 300 else b'{"error":"refused"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, fmt, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
