"""Writes the structure-aware seed corpora for the fuzz targets (see SECURITY.md).

Run: python3 fuzz/make_seeds.py  (any Python 3; pickle and json only). The seeds are
committed; what the fuzzer finds beyond them goes to fuzz/corpus/ (not committed)."""
import json
import os
import pickle

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# Pickles: real sessions, shared references, huge numbers, refused opcodes.
x = [1]
for _ in range(40):
    x = [x, x]
y = [1]
for _ in range(3):
    y = [y] * 50
shared = ["s" * 100]
pickles = {
    "session": {"_auth_user_id": "1", "n": 3, "f": 2.5, "l": [1, None, True], "d": {"a": "é"}},
    "memo_bomb": {"a": x},
    "wide_bomb": {"a": y},
    "shared_strings": {"a": shared * 20},
    "big_int": {"n": 7 ** 5000},
    "neg_big_int": {"n": -(7 ** 5000)},
    "expiry_float": {"_session_expiry": 1e300},
    "expiry_iso": {"_session_expiry": "2026-01-02T03:04:05.500000+00:00"},
    "tuple_set": {"t": (1, 2), "s": [frozenset()] and []},
    "none": None,
}
for name, obj in pickles.items():
    for proto in (2, 4, 5):
        put("pickle", f"{name}_p{proto}", pickle.dumps(obj, protocol=proto))
        put("stored_session", f"{name}_p{proto}", pickle.dumps(obj, protocol=proto))
put("pickle", "global", b"cos\nsystem\n(S'true'\ntR.")

# JSON values and expiry readers.
for name, text in {
    "expiry_seconds": "86400",
    "expiry_huge": "1e300",
    "expiry_inf": "Infinity",
    "expiry_iso": '"2026-01-02T03:04:05.5Z"',
    "expiry_naive": '"2026-01-02 03:04:05"',
    "expiry_offset": '"2026-01-01T21:04:05.500-06:00"',
    "expiry_basic": '"20260102T030405"',
    "expiry_bad": '"9999-99-99"',
    "big_int": "7" * 5000,
    "deep": "[" * 5000 + "]" * 5000,
}.items():
    put("expiry", name, text)
    put("stored_session", name + "_json", text)
put("stored_session", "json_session", json.dumps({"_session_expiry": 1e300, "u": 1}))

# Cookie headers.
for name, text in {
    "plain": "sessionid=abcdefghijklmnopqrstuvwxyz012345",
    "others": 'a=1; theme=caf\xe9; sessionid="quoted\\073"; b',
    "dupes": "sessionid=a; sessionid=b;;; =; ==; sessionid",
}.items():
    put("cookie_header", name, text.encode("latin-1"))
put("cookie_header", "bytes", b"theme=caf\xc3\xa9; sessionid=abcdefgh12345678")

# Signed strings (structure only; signatures will not verify).
for name, text in {
    "plain": "eyJrIjoidiJ9:1vbVSP:X2vfQscbOej0ZIfOgNOC1r4J6Nvy69yIezgU_L6cWLM",
    "compressed": ".eJyrVspOrVSyUipLzClNVaoFAC9NBYM:1vbVSP:sig",
    "junk_base64": "eyJr!!Ijoid iJ9:1vbVSP:X2vfQscbOej0ZIfOgNOC1r4J6Nvy69yIezgU_L6cWLM",
    "colons": "::::",
}.items():
    put("signed_string", name, text)
