"""The journeys' SMTP sink (tests/e2e/run.sh starts it): aiosmtpd on 127.0.0.1:PORT requiring STARTTLS with
the given certificate; each message is written to DIR as <n>.eml (the raw message, as received) with
<n>.json beside it (envelope sender and recipients).  Runs until killed.

Usage: smtp_sink.py PORT DIR CERT KEY"""
import json
import ssl
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, out):
        self.out, self.n, self.lock = out, 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.n += 1
            n = self.n
        raw = envelope.original_content or envelope.content
        (self.out / f"{n}.json").write_text(json.dumps({"from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
                                                        "tls": session.ssl is not None}))
        (self.out / f"{n}.eml.part").write_bytes(raw)
        (self.out / f"{n}.eml.part").rename(self.out / f"{n}.eml")
        return "250 OK"


def main():
    port, out, cert, key = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctl = Controller(Store(out), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True)
    ctl.start()
    print(f"smtp sink on 127.0.0.1:{port}, storing in {out}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
