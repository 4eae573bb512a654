# An SMTP server we did not write (Python's smtpd), for the notice delivery test: prints each
# message it receives as one JSON line, decoded by Python's email package.
import asyncore, email, json, smtpd, sys, warnings
from email import policy
warnings.simplefilter("ignore")

class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        m = email.message_from_bytes(data, policy=policy.default)
        print(json.dumps({"from": str(m["from"]), "to": rcpttos, "subject": str(m["subject"]),
                          "body": m.get_body(("plain",)).get_content().strip()}), flush=True)

Sink(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
print("ready", flush=True)
asyncore.loop()
