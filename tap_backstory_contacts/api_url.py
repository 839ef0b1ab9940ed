"""The ``api_url`` setting, judged with the URL parser the HTTP stack itself uses.

requests hands URLs to urllib3, whose ``parse_url`` decides where the host ends; the
standard library's ``urllib.parse`` disagrees on some URLs (``http://A:1\\@127.0.0.1:2`` is
127.0.0.1 to it and ``A`` to urllib3). Checking with one parser and connecting with another
would let a URL pass the loopback check and send the secret elsewhere, so every decision
here (the host, loopback or not) is made on urllib3's reading. Anything the parsers could
read differently, or that would change the paths the tap appends, is refused outright.
"""

from __future__ import annotations

import ipaddress
import re

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

# Path segments of plain characters only: no dot segments (urllib3 removes them, so the
# path used would differ from the one written), no empty ones, no percent-escapes.
_PLAIN_PATH = re.compile(r"(/[A-Za-z0-9_~.-]+)*/?")


def host_of(url: str) -> str | None:
    """The host urllib3 (and so requests) connects to for ``url``; None if unparsable."""
    try:
        return parse_url(url).host
    except LocationParseError:
        return None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine: 127.0.0.0/8, ::1 (bracketed or not) or localhost."""
    if not host:
        return False
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def api_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the API's base address, or None.

    The answer starts with ``api_url:`` and never quotes a password written in the URL.
    """
    shown = repr(_without_password(url))
    if any(not "!" <= char <= "~" for char in url):
        return (
            f"api_url: {shown} contains a space, a control character or a non-ASCII "
            "character; write the URL in plain ASCII (an international host name in its "
            "xn-- form)"
        )
    if "\\" in url:
        return (
            f"api_url: {shown} contains a backslash: HTTP libraries disagree on where the "
            "host ends at a backslash, so the tap could connect to another host than the one "
            "checked. Remove it"
        )
    _, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    userinfo = (
        f"api_url: {shown} holds a user name or password (user:pass@host): the tap signs "
        "in only with client_id and client_secret, and would otherwise send these as Basic "
        "auth instead of the bearer token. Remove them from the URL"
    )
    if "@" in authority:
        return userinfo
    try:
        parsed = parse_url(url)
    except LocationParseError:
        return f"api_url: {shown} is not a valid URL (check the host name and the port)"
    if parsed.scheme not in ("http", "https") or not parsed.host or "://" not in url:
        return f"api_url: {shown} is not an http(s) URL with a host, e.g. https://api.people.ai"
    if "?" in url or "#" in url:
        part = "a query (?…)" if "?" in url else "a fragment (#…)"
        return (
            f"api_url: {shown} has {part}: api_url is the base address the tap appends "
            "/auth/v1/tokens and /pull/v1/export/… to. Remove everything from the "
            f"{'?' if '?' in url else '#'} on"
        )
    if parsed.auth is not None:
        return userinfo
    if not _PLAIN_PATH.fullmatch("/" + path if path else "") or any(
        segment in (".", "..") for segment in path.split("/")
    ):
        return (
            f"api_url: {shown} has a path the tap does not accept: use segments of letters, "
            "digits and - . _ ~ separated by single slashes, with no . or .. segment and no "
            "%-escape (e.g. https://proxy.example/backstory)"
        )
    if parsed.scheme == "http" and not is_loopback(parsed.host):
        return (
            f"api_url: {shown} is plain http to another host: client_secret and the bearer "
            "token would cross the network unencrypted. Use https:// (plain http is allowed "
            "only for loopback: 127.0.0.0/8, ::1, localhost)"
        )
    return None


def _without_password(url: str) -> str:
    """``url`` with everything between ``://`` and its last ``@`` shown as ``***``: a
    password may hold any character, so no narrower cut is sure to hide all of it."""
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
