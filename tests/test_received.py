"""Received headers read into hops: hand-checked hop lists from real corpus mail, and each dialect."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.corpus_support import CORPUS, needs_corpus
from tuimail.model.received import parse_received
from tuimail.model.route import route_of

# (from_host, from_ip, by_host, protocol, tls, authenticated, when, delay seconds), oldest first,
# written from reading each raw header.
GOOGLE_TLS = "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
MS_TLS = "TLS1_2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
EXPECTED_HOPS = {
    # Gmail: web submission, internal hops, then mx.google.com over TLS
    "mimekit/dkim/gmail.msg": [
        (None, None, "10.25.21.73", "HTTP", None, False, "2015-06-10T19:05:37-07:00", None),
        (None, None, "lams18", "SMTP", None, False, "2015-06-10T19:05:37-07:00", 0),
        ("mail-la0-x241.google.com", "2a00:1450:4010:c03::241", "mx.google.com", "ESMTPS", GOOGLE_TLS, False,
         "2015-06-10T19:05:37-07:00", 0),
        (None, None, "10.152.28.6", "SMTP", None, False, "2015-06-10T19:05:37-07:00", 0),
    ],
    # Gmail with ESMTPSA submission from a client (authenticated)
    "mimekit/dkim/multipart-no-end-boundary.msg": [
        ("Test", "127.0.0.1", "smtp.gmail.com", "ESMTPSA", "TLS1_2 ECDHE-RSA-AES128-GCM-SHA256", True,
         "2016-01-11T07:33:35-08:00", None),
        (None, None, "mail-wm0-x22d.google.com", "SMTP", None, False, "2016-01-11T07:33:37-08:00", 2),
        ("mail-wm0-x22d.google.com", "2a00:1450:400c:c09::22d", "mx.google.com", "ESMTPS",
         "TLS1_2 ECDHE-RSA-AES128-GCM-SHA256", False, "2016-01-11T07:33:37-08:00", 0),
        (None, None, "10.202.87.23", "SMTP", None, False, "2016-01-11T07:33:37-08:00", 0),
    ],
    # Postfix and Exim (Canonical's list servers)
    "nodemailer-mailparser/large_text.eml": [
        ("loganberry.canonical.com", "127.0.0.1", "loganberry.canonical.com", "ESMTP", None, False,
         "2011-08-03T17:54:58+00:00", None),
        ("loganberry.canonical.com", "91.189.90.37", "adelie.canonical.com", "ESMTP", None, False,
         "2011-08-03T17:54:59+00:00", 1),
        ("adelie.canonical.com", "91.189.90.139", "chlorine.canonical.com", "ESMTP", None, False,
         "2011-08-03T17:54:59+00:00", 0),
        ("localhost", "127.0.0.1", "chlorine.canonical.com", "ESMTP", None, False, "2011-08-03T17:55:03+00:00", 4),
        ("chlorine.canonical.com", "91.189.94.204", "fiordland.canonical.com", "ESMTP", None, False,
         "2011-08-03T17:55:18+00:00", 15),
        ("fiordland.canonical.com", "91.189.94.145", "lillypilly.canonical.com", "ESMTP", None, False,
         "2011-08-03T17:55:18+00:00", 0),
    ],
    # Exchange Online / Outlook, after a Postfix sender and a Proofpoint relay using TLS
    "mimekit/messages/bounce.txt": [
        (None, None, "hmail.jitbit.com", None, None, False, "2022-01-26T04:06:48-05:00", None),
        ("hmail.jitbit.com", "52.4.102.94", "mx1-eu1.ppe-hosted.com", "ESMTPS",
         "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384", False, "2022-01-26T09:06:48+00:00", 0),
        ("dispatchb-eu1.ppe-hosted.com", "185.132.181.12", "LO2GBR01FT016.mail.protection.outlook.com", "SMTP",
         MS_TLS, False, "2022-01-26T09:06:51+00:00", 3),
        ("LO2GBR01FT016.eop-gbr01.prod.protection.outlook.com", "2603:10a6:600:197:cafe::98",
         "LO4P123CA0318.outlook.office365.com", "SMTP", MS_TLS, False, "2022-01-26T09:06:51+00:00", 0),
        ("LO4P123CA0318.GBRP123.PROD.OUTLOOK.COM", "2603:10a6:600:197::17", "LO0P123MB5470.GBRP123.PROD.OUTLOOK.COM",
         "SMTP", MS_TLS, False, "2022-01-26T09:06:51+00:00", 0),
        ("LO0P123MB5470.GBRP123.PROD.OUTLOOK.COM", "2603:10a6:600:21c::9", "LO2P123MB4999.GBRP123.PROD.OUTLOOK.COM",
         "HTTPS", "TLS", False, "2022-01-26T09:06:52+00:00", 1),
    ],
    # Exchange (MAPI, then Exchange Online), ASSP, qmail; the qmail clock is 2 s behind
    "mimekit/messages/issue358.txt": [
        ("AM4PR01MB1444.eurprd01.prod.exchangelabs.com", "fe80::7830:c66f:eaa8:e3dd",
         "AM4PR01MB1444.eurprd01.prod.exchangelabs.com", "MAPI", None, False, "2017-11-15T14:16:14+00:00", None),
        ("AM4PR01MB1444.eurprd01.prod.exchangelabs.com", "10.164.76.26", "AM4PR01MB1442.eurprd01.prod.exchangelabs.com",
         "SMTP", "TLS1_2 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384_P256", False, "2017-11-15T14:16:14+00:00", 0),
        ("mail-he1eur01on0133.outbound.protection.outlook.com", "104.47.0.133", "myassp01.mynet.it", "SMTP", None,
         False, "2017-11-15T15:16:20+01:00", 6),
        ("unknown", "80.68.177.35", None, "SMTP", None, False, "2017-11-15T14:16:18+00:00", -2),
        (None, None, None, None, None, False, "2017-11-15T14:16:18+00:00", 0),
    ],
    # Postfix then Exim with envelope-from
    "spamscope-mail-parser/mail_test_6": [
        ("localhost", "172.22.22.61", "smtp11.ggg.com", "ESMTP", None, False, "2017-07-15T12:18:41+03:00", None),
        ("smtp11.ggg.com", "66.202.209.213", "mx34.test.it", "ESMTP", None, False, "2017-07-15T12:18:41+03:00", 0),
    ],
    # Sendmail submit, Sendmail, IronPort (ESMTP/TLS/cipher), Exchange 2010 without TLS
    "spamscope-mail-parser/mail_test_17": [
        (None, None, "vps-051e4cda.vps.ovh.net", None, None, False, "2022-10-10T20:11:32+00:00", None),
        ("vps-051e4cda.vps.ovh.net", "127.0.0.1", "vps-051e4cda.vps.ovh.net", "ESMTP", None, False,
         "2022-10-10T20:11:32+00:00", 0),
        ("vps-051e4cda.vps.ovh.net", "152.228.133.10", "apiron13.triara.com", "ESMTP",
         "TLS ECDHE-RSA-AES128-GCM-SHA256", False, "2022-10-10T15:11:34-05:00", 2),
        ("apiron13.triara.com", "200.57.129.98", "APCNHUB11.correo.local", "SMTP", None, False,
         "2022-10-10T15:11:35-05:00", 1),
    ],
    # 1990s Sendmail, with a hop whose clock is days behind
    "mimetools-testmsgs/jt-0498.msg": [
        ("Gaffneydp@aol.com", None, "imo11.mx.aol.com", None, None, False, "1998-04-30T11:28:50-04:00", None),
        ("imo11.mx.aol.com", "198.81.17.33", "sina.hpc.uh.edu", "ESMTP", None, False, "1998-04-30T10:29:47-05:00", 57),
        (None, None, "sina.hpc.uh.edu", None, None, False, "1998-04-30T14:26:17-05:00", 14190),
        (None, None, "sina.hpc.uh.edu", None, None, False, "1998-04-30T14:26:26-05:00", 9),
        ("sina.hpc.uh.edu", "10.1.1.1", "farabi.hpc.uh.edu", "ESMTP", None, False, "1998-04-27T22:20:19-05:00",
         -230767),
        ("farabi.hpc.uh.edu", "129.7.102.2", "sina.hpc.uh.edu", "ESMTP", None, False, "1998-04-30T14:27:51-05:00",
         230852),
    ],
    # Sendmail (the from word is the HELO; the address it saw is in the comment), Exchange 5.5, Content Technologies, Microsoft SMTPSVC (Enron)
    "ruby-mail/error_emails/content_transfer_encoding_x_uuencode.eml": [
        ("207.202.136.216", "207.202.136.136", "comet.pacifier.com", "ESMTP", None, False,
         "2002-01-10T13:59:21-08:00", None),
        ("LIST.TRANSMISSION.BPA.GOV", None, "LIST.TRANSMISSION.BPA.GOV", "SPOOL", None, False,
         "2002-01-10T14:13:50-08:00", 869),
        ("TBLLIST1", "206.137.58.134", "tblexch01.transmission.bpa.gov", "SMTP", None, False,
         "2002-01-10T14:11:55-08:00", -115),
        ("tblexch01.transmission.bpa.gov", "206.137.58.133", "mailman.enron.com", "ESMTP", None, False,
         "2002-01-10T16:12:11-06:00", 16),
        ("mailman.enron.com", None, "NAHOU-MSMSW06P.corp.enron.com", "ESMTP", None, False,
         "2002-01-10T16:12:47-06:00", 36),
        ("NAHOU-MSMSW06P.corp.enron.com", "192.168.110.228", "nahou-mscnx06p.corp.enron.com", "SMTP", None, False,
         "2002-01-10T16:12:52-06:00", 5),
        ("nahou-mscnx06p.corp.enron.com", "192.168.110.237", "napdx-msmbx01v.corp.enron.com", "SMTP", None, False,
         "2002-01-10T14:12:53-08:00", 1),
    ],
    # Exim (local, local-rmail, esmtp), Postfix ESMTPS, amavisd-new, Dovecot LMTP (Comcast)
    "mimekit/openpgp/[Announce] GnuPG 2.1.20 released.eml": [
        ("wk", None, "wheatstone.g10code.de", "LOCAL", None, False, "2017-04-03T22:24:42+02:00", None),
        ("uucp", None, "kerckhoffs.g10code.com", "LOCAL-RMAIL", None, False, "2017-04-03T22:28:24+02:00", 222),
        ("kerckhoffs.g10code.com", "217.69.77.222", "lists.gnupg.org", "ESMTP", None, False,
         "2017-04-03T22:28:24+02:00", 0),
        ("localhost", "127.0.0.1", "lists.gnupg.org", "ESMTP", None, False, "2017-04-03T22:28:27+02:00", 3),
        ("lists.gnupg.org", "217.69.76.57", "smtp.gnome.org", "ESMTPS", "TLS", False, "2017-04-03T20:34:40+00:00", 373),
        ("smtp.gnome.org", "127.0.0.1", "localhost", "ESMTP", None, False, "2017-04-03T20:34:40+00:00", 0),
        ("localhost", "127.0.0.1", "smtp.gnome.org", "ESMTP", None, False, "2017-04-03T20:34:43+00:00", 3),
        (None, None, "smtp.gnome.org", None, None, False, "2017-04-03T20:34:43+00:00", 0),
        ("smtp.gnome.org", "209.132.180.187", "resimta-po-19v.sys.comcast.net", "SMTP", None, False,
         "2017-04-03T20:34:44+00:00", 1),
        ("resimta-po-19v.sys.comcast.net", "96.118.52.100", "dovpxy-asb-15o.email.comcast.net", "LMTP", None, False,
         "2017-04-03T20:36:45+00:00", 121),
        ("dovpxy-asb-15o.email.comcast.net", "96.118.52.100", "dovdir3-asb-04o.email.comcast.net", "LMTP", None,
         False, "2017-04-03T20:36:45+00:00", 0),
        ("dovdir3-asb-04o.email.comcast.net", "96.118.52.100", "dovback3-asb-16o.email.comcast.net", "LMTP", None,
         False, "2017-04-03T20:36:45+00:00", 0),
    ],
    # qmail, qpsmtpd and Exim (Apache's list, via GoDaddy)
    "james-mime4j-testmsgs/example.msg": [
        ("82.38.65.6", "82.38.65.6", "asmtp-out5.blueyonder.co.uk", "ESMTPA", None, True,
         "2008-05-25T15:38:14+01:00", None),
        ("172.23.170.140", "172.23.170.140", "smtp-out2.blueyonder.co.uk", "SMTP", None, False,
         "2008-05-25T15:38:15+01:00", 1),
        ("195.188.213.5", "195.188.213.5", "apache.org", "ESMTP", None, False, "2008-05-25T14:38:00+00:00", -15),
        ("athena.apache.org", "140.211.11.136", "apache.org", "ESMTP", None, False, "2008-05-25T07:38:48-07:00", 48),
        (None, None, None, None, None, False, "2008-05-25T14:38:48+00:00", 0),
        (None, None, None, None, None, False, "2008-05-25T14:38:48+00:00", 0),
        ("hermes.apache.org", "140.211.11.2", "minotaur.apache.org", "SMTP", None, False,
         "2008-05-25T14:38:46+00:00", -2),
        (None, None, None, None, None, False, "2008-05-25T14:38:46+00:00", 0),
        (None, None, None, None, None, False, "2008-05-25T14:38:46+00:00", 0),
        ("minotaur.apache.org", "140.211.11.9", "p3presmtp01-16.prod.phx3.secureserver.net", "SMTP", None, False,
         "2008-05-25T14:38:50+00:00", 4),
        (None, None, None, None, None, False, "2008-05-25T14:38:53+00:00", 3),
        ("unknown", "208.109.80.165", "smtp20-01.prod.mesa1.secureserver.net", "SMTP", None, False,
         "2008-05-25T14:38:53+00:00", 0),
        (None, None, None, None, None, False, "2008-05-25T14:38:53+00:00", 0),
    ],
}


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED_HOPS))
def test_corpus_hops_match_the_hand_written_list(name: str):
    route = route_of((CORPUS / name).read_bytes())
    got = [(h.from_host, h.from_ip, h.by_host, h.protocol, h.tls, h.authenticated,
            h.when.isoformat() if h.when else None, None if h.delay is None else h.delay.total_seconds())
           for h in route.hops]
    assert got == EXPECTED_HOPS[name]
    assert [h.index for h in route.hops] == list(range(1, len(got) + 1))


@needs_corpus
def test_corpus_envelope_for_and_ids():
    hops = route_of((CORPUS / "nodemailer-mailparser/large_text.eml").read_bytes()).hops
    assert hops[0].envelope_for == "ubuntu-bugs@lists.ubuntu.com" and hops[0].id == "C1D372E84F6"
    assert hops[1].id == "1Qofek-0002lM-SE"
    assert hops[-1].envelope_for == "listarchive-ubuntubugs@lillypilly.canonical.com"


def test_postfix_with_tls_and_authenticated_sender():
    hop = parse_received(
        "from [192.0.2.7] (unknown [198.51.100.4])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))"
        "\r\n\t(Authenticated sender: bob@example.org)\r\n\tby mail.example.org (Postfix) with ESMTPSA id 4Xyz1"
        "\r\n\tfor <alice@example.net>; Tue, 2 Jan 2024 10:00:05 +0100 (CET)")
    assert (hop.from_host, hop.from_ip, hop.by_host, hop.protocol) == ("192.0.2.7", "198.51.100.4",
                                                                       "mail.example.org", "ESMTPSA")
    assert hop.tls == "TLSv1.3 TLS_AES_256_GCM_SHA384" and hop.authenticated
    assert (hop.envelope_for, hop.id) == ("alice@example.net", "4Xyz1")
    assert hop.when == datetime(2024, 1, 2, 9, 0, 5, tzinfo=timezone.utc)
    assert "\r" not in hop.raw and "\n" not in hop.raw and hop.parsed


def test_exim_tls_the_helo_is_not_the_address():
    hop = parse_received("from mail.example.com ([203.0.113.9] helo=[10.1.1.1]) by mx.example.net with esmtps "
                         "(TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@example.com>) "
                         "id 1rKx-000A-Bc for b@example.net; Wed, 03 Jan 2024 08:00:00 +0000")
    assert hop.from_ip == "203.0.113.9" and hop.protocol == "ESMTPS"
    assert hop.tls == "TLS1.3 TLS_AES_256_GCM_SHA384" and not hop.authenticated
    assert hop.envelope_for == "b@example.net" and any("10.1.1.1" in n for n in hop.notes)


def test_qmail_and_no_time_zone_and_garbage():
    qmail = parse_received("(qmail 123 invoked from network); 8 Mar 2017 16:46:30 -0000")
    assert qmail.parsed and qmail.when == datetime(2017, 3, 8, 16, 46, 30, tzinfo=timezone.utc)
    for junk in ("", "(((", "\x1b]52;c;aGk=\x07 nonsense; not a date", "from", "by ;", "x" * 100_000):
        hop = parse_received(junk)
        assert not hop.parsed and hop.when is None
        assert "\x1b" not in hop.raw and "\x07" not in hop.raw and len(hop.raw) <= 4000
    assert parse_received("by h with SMTP; 1 Jan 2020 00:00:00 +0100").when.utcoffset() == timedelta(hours=1)
