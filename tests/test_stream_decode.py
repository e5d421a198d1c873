"""Transfer decoding chunk by chunk gives the same bytes as decoding at once."""
from __future__ import annotations

import base64
import quopri
import random

import pytest

from tuimail.model.stream_decode import TransferDecoder


def chunks(data: bytes, rng: random.Random):
    i = 0
    while i < len(data):
        n = rng.randint(1, 997)
        yield data[i:i + n]
        i += n


@pytest.mark.parametrize("seed", range(5))
def test_base64_and_qp_across_random_chunk_edges(seed):
    rng = random.Random(seed)
    payload = rng.randbytes(20_000 + seed)
    for encoding, encoded in (("base64", base64.encodebytes(payload)),
                              ("quoted-printable", quopri.encodestring(payload)),
                              ("7bit", payload)):
        decoder = TransferDecoder(encoding)
        out = b"".join(decoder.feed(c) for c in chunks(encoded, rng)) + decoder.finish()
        whole = quopri.decodestring(encoded) if encoding == "quoted-printable" else payload
        assert out == whole, encoding  # QP maps a raw CR LF to LF either way


def test_qp_without_line_breaks_and_bad_base64_do_not_raise():
    decoder = TransferDecoder("quoted-printable")
    data = b"=41" * 40_000
    out = b"".join(decoder.feed(data[i:i + 1000]) for i in range(0, len(data), 1000)) + decoder.finish()
    assert out == b"A" * 40_000
    decoder = TransferDecoder("base64")
    assert decoder.feed(b"QUJD!!!R") + decoder.finish() == b"ABC"
    assert decoder.problems
