"""Test data shared by the upstream server and the client driver.

Both sides derive the same bytes from here so the driver can compare results
exactly; what is under test is whether mcp-sigv4 carries them unchanged.
"""

# Non-ASCII (2-, 3- and 4-byte UTF-8), JSON escapes (quote, backslash, control
# characters), embedded newlines of every kind (LF, CRLF, lone CR), and the
# Unicode line/paragraph separators and NEL, which are *not* line ends for JSON
# Lines or SSE but are for some naive splitters.
UNICODE_SAMPLE = (
    "héllo wörld — 日本語 🚀\n"
    'line two with "double quotes", \'single\' and a back\\slash\\\\\n'
    "tab\there, crlf\r\nlone cr\rand a json-looking {\"k\": [1, \"\\n\"]}\n"
    "separators:\u2028LS\u2029PS\u0085NEL, nul:\u0000, bell:\u0007, del:\u007f, bom:\ufeff end"
)

ONE_MIB = 1024 * 1024


def big_text(n_chars: int = ONE_MIB) -> str:
    """`n_chars` characters: zero-padded line numbers, 8 characters a line, so any
    dropped, doubled or reordered chunk shows up as a wrong number."""
    lines = (n_chars + 7) // 8
    return "".join(f"{i:07d}\n" for i in range(lines))[:n_chars]


def large_request_text(n_chars: int = 256 * 1024) -> str:
    """A request argument of `n_chars` characters mixing ASCII and multi-byte text."""
    unit = "abcdefghijklmnopqrstuvwxyz0123456789 ünïcødé 日本 🚀\n"
    return (unit * (n_chars // len(unit) + 1))[:n_chars]
