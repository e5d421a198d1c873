"""protocols/smtp.send() against a scripted SMTP server playing SECURITY-CASES A1, A2, A21,
C27 and F38: what was refused, what was sent, and that no credential ever left too early."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.smtp_support import CREDENTIALS, PASSWORD, FakeSmtp, fake_account, pki  # noqa: F401
from tuimail.model.config import Security
from tuimail.model.secret import Secret
from tuimail.protocols.errors import AuthError, StartTlsError
from tuimail.protocols.smtp import DeliveryUnknown, RecipientsRefused, SmtpRefused, send
from tuimail.protocols.trace import ProtocolTrace

FROM = "alice@example.test"
TO = ["bob@example.test", "carol@example.test"]


def message(body: str = "Hello Bob.\n", subject: str = "Hi") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = FROM, ", ".join(TO), subject
    msg["Message-ID"] = "<fixed-1@example.test>"
    msg.set_content(body)
    return msg.as_bytes()


def starttls_server(pki, **kwargs) -> FakeSmtp:
    return FakeSmtp(starttls=pki["server"], **kwargs)


def send_to(server: FakeSmtp, pki, security=Security.STARTTLS, data: bytes | None = None,
            recipients=TO, **kwargs):
    account = fake_account(server.port, security, pki["ca_pem"],
                           allow_plaintext_auth=security is Security.PLAIN)
    return send(account, Secret(PASSWORD), FROM, list(recipients), data or message(), **kwargs)


# ---------------------------------------------------------------- A1, A2: no AUTH without TLS

@pytest.mark.parametrize("kwargs, reason", [
    ({"caps_plain": (b"8BITMIME", b"AUTH PLAIN LOGIN")}, "does not offer STARTTLS"),
    ({"replies": {"starttls": b"454 4.7.0 TLS not available"}}, "STARTTLS failed; unencrypted reply: 454"),
    ({"replies": {"starttls": b"502 5.5.1 no"}}, "STARTTLS failed; unencrypted reply: 502"),
])
def test_starttls_missing_or_refused_sends_nothing_else(pki, kwargs, reason):
    with starttls_server(pki, **kwargs) as server:
        with pytest.raises(StartTlsError, match=reason) as caught:
            send_to(server, pki)
    server.assert_no_credentials()
    assert not {b"AUTH", b"MAIL", b"RCPT", b"DATA"} & set(server.commands())
    assert server.received == [] and PASSWORD not in str(caught.value)


def test_plain_security_never_sends_auth_even_when_offered_and_allowed(pki):
    with FakeSmtp(caps_plain=(b"8BITMIME", b"AUTH PLAIN LOGIN")) as server:
        result = send_to(server, pki, security=Security.PLAIN)
    server.assert_no_credentials()
    assert server.commands()[:2] == [b"EHLO", b"MAIL"]
    assert [r.address for r in result.accepted] == TO and result.data_code == 250
    assert len(server.delivered) == 1


def test_auth_happens_only_after_tls_with_the_best_mechanism(pki):
    with starttls_server(pki, caps_tls=(b"8BITMIME", b"AUTH LOGIN PLAIN CRAM-MD5")) as server:
        send_to(server, pki)
    plain, tls = server.client_bytes("plain"), server.client_bytes("tls")
    assert b"AUTH" not in plain and b"STARTTLS" in plain
    assert tls.startswith(b"EHLO") and b"AUTH CRAM-MD5\r\n" in tls and b"AUTH PLAIN" not in tls
    for secret in CREDENTIALS:
        assert secret not in server.client_bytes()


# ---------------------------------------------------------------- A21, F38: refusals, each reported

def test_535_at_auth_is_an_auth_error_and_nothing_is_sent(pki):
    with starttls_server(pki, replies={"auth": b"535 5.7.8 \x1b[31mbad credentials"}) as server:
        with pytest.raises(AuthError, match="535 5.7.8") as caught:
            send_to(server, pki)
    assert "\x1b" not in str(caught.value) and PASSWORD not in str(caught.value)
    assert b"MAIL" not in server.commands() and server.received == []


@pytest.mark.parametrize("greeting", [b"421 4.3.2 shutting down", b"554 5.3.2 go away"])
def test_a_refusing_greeting_is_a_clean_error_before_anything_is_sent(pki, greeting):
    with starttls_server(pki, replies={"greeting": greeting}) as server:
        with pytest.raises(SmtpRefused) as caught:
            send_to(server, pki)
    code = int(greeting[:3])
    assert caught.value.code == code and caught.value.stage == "greeting"
    assert greeting.decode() in str(caught.value)
    assert server.client_bytes() == b""


def test_550_for_one_of_two_recipients_still_delivers_to_the_other(pki):
    def rcpt(address: bytes) -> bytes:
        return b"550 5.1.1 <carol@example.test>: no such user" if address.startswith(b"carol") else b"250 2.1.5 ok"

    with starttls_server(pki, rcpt=rcpt) as server:
        result = send_to(server, pki)
    assert [(r.address, r.code, r.accepted) for r in result.accepted] == [("bob@example.test", 250, True)]
    assert [(r.address, r.code) for r in result.refused] == [("carol@example.test", 550)]
    assert "no such user" in result.refused[0].message
    assert len(server.delivered) == 1 and server.delivered[0].rcpts == [b"bob@example.test"]
    assert result.data_code == 250 and "queued" in result.data_message


def test_every_recipient_refused_sends_no_data(pki):
    with starttls_server(pki, rcpt=lambda address: b"550 5.1.1 unknown") as server:
        with pytest.raises(RecipientsRefused) as caught:
            send_to(server, pki)
    assert [r.address for r in caught.value.results] == TO and caught.value.code == 550
    assert b"DATA" not in server.commands() and server.received == []


@pytest.mark.parametrize("reply, temporary", [(b"451 4.3.0 try again later", True),
                                              (b"552 5.3.4 message too big", False)])
def test_a_refusal_after_data_is_reported_with_the_servers_words(pki, reply, temporary):
    with starttls_server(pki, replies={"end": reply}) as server:
        with pytest.raises(SmtpRefused) as caught:
            send_to(server, pki)
    assert caught.value.code == int(reply[:3]) and caught.value.temporary is temporary
    assert reply.decode() in str(caught.value)
    assert len(server.received) == 1 and server.delivered == []


def test_connection_dropped_after_the_final_dot_is_delivery_unknown(pki):
    with starttls_server(pki, replies={"end": None}) as server:
        with pytest.raises(DeliveryUnknown, match="may or may not have been delivered"):
            send_to(server, pki)
    assert len(server.received) == 1 and len(server.connections) == 1  # no retry


def test_a_refusal_of_data_itself_is_not_unknown(pki):
    with starttls_server(pki, replies={"data": b"554 5.5.1 no valid recipients"}) as server:
        with pytest.raises(SmtpRefused, match="DATA refused: 554"):
            send_to(server, pki)
    assert server.received == []


# ---------------------------------------------------------------- C27, SMTPUTF8, 8BITMIME, SIZE

def test_a_body_with_smtp_commands_and_lone_dots_is_one_message(pki):
    body = "line\r\n.\r\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n" \
           "lf\n.\nthen cr\r.\rend\n.leading dot\n"
    raw = message().replace(b"Hello Bob.\n", body.encode())
    with starttls_server(pki) as server:
        send_to(server, pki, data=raw)
    assert server.commands().count(b"MAIL") == 1 and server.commands().count(b"DATA") == 1
    assert len(server.received) == 1
    got = server.received[0].data
    assert b"MAIL FROM:<evil@example.test>\r\n" in got and b"\r\n.\r\nthen cr\r\n.\r\nend\r\n.leading dot\r\n" in got


def test_8bit_content_asks_for_8bitmime_and_declares_its_size(pki):
    raw = message().replace(b"Hello Bob.", "Grüße, Bob.".encode())
    with starttls_server(pki) as server:
        send_to(server, pki, data=raw)
    mail = server.received[0].mail_from
    assert b"BODY=8BITMIME" in mail and b"SIZE=" in mail and b"SMTPUTF8" not in mail


def test_non_ascii_addresses_need_smtputf8(pki):
    with starttls_server(pki) as server:
        with pytest.raises(SmtpRefused, match="needs SMTPUTF8"):
            send_to(server, pki, recipients=["jürgen@example.test"])
    assert b"MAIL" not in server.commands()
    with starttls_server(pki, caps_tls=(b"8BITMIME", b"SMTPUTF8", b"AUTH PLAIN")) as server:
        result = send_to(server, pki, recipients=["jürgen@example.test"])
    assert result.accepted[0].address == "jürgen@example.test"
    assert b"SMTPUTF8" in server.received[0].mail_from
    assert "jürgen".encode() in server.client_bytes("tls")


@pytest.mark.parametrize("bad", ["bob@example.test>\r\nRCPT TO:<evil@x", "bob@example.test ", "", "<b@x>"])
def test_envelope_addresses_cannot_carry_commands(pki, bad):
    with starttls_server(pki) as server:
        with pytest.raises(ValueError):
            send_to(server, pki, recipients=[bad])
    assert server.connections == []  # refused before connecting


# ---------------------------------------------------------------- the trace

def test_the_trace_shows_the_session_but_never_the_password(pki):
    trace = ProtocolTrace("smtp")
    with starttls_server(pki) as server:
        send_to(server, pki, trace=trace)
    text = trace.format()
    assert "MAIL FROM:<alice@example.test>" in text and "RCPT TO:<bob@example.test>" in text
    assert "AUTH PLAIN ***" in text and "250 2.0.0 queued" in text
    for secret in CREDENTIALS:
        assert secret.decode() not in text
    assert any(e.literal and e.data.startswith(b"From: alice") for e in trace.entries())
    assert trace.counters().bytes_out > len(message())
