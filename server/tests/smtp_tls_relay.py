# A mail relay we did not write (aiosmtpd) that insists on STARTTLS and then AUTH, for the notice
# delivery test. Usage: smtp_tls_relay.py PORT CERT KEY USER PASSWORD
# Prints one JSON line per login attempt and per message received.
import email, json, ssl, sys, time
from email import policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password = sys.argv[1:6]
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)


def authenticator(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword) and data.login.decode() == user
          and data.password.decode() == password)
    print(json.dumps({"auth": mechanism, "ok": ok, "tls": session.ssl is not None}), flush=True)
    # handled=False: aiosmtpd answers a failure with 535 itself.
    return AuthResult(success=ok, handled=False)


class Relay:
    async def handle_DATA(self, server, session, envelope):
        m = email.message_from_bytes(envelope.content, policy=policy.default)
        print(json.dumps({"to": envelope.rcpt_tos, "subject": str(m["subject"]),
                          "body": m.get_body(("plain",)).get_content().strip(),
                          "tls": session.ssl is not None,
                          "authenticated": bool(session.authenticated)}), flush=True)
        return "250 OK"


relay = Controller(Relay(), hostname="127.0.0.1", port=int(port), tls_context=tls,
                   require_starttls=True, authenticator=authenticator, auth_required=True)
relay.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
