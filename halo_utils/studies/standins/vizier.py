"""A VizieR stand-in: astroquery's VizieR client, unchanged, answered from local CDS catalogue folders.

astroquery sends its VizieR queries to ``https://vizier.cds.unistra.fr/viz-bin/votable`` (its configuration only
accepts the list of real mirrors), so the stand-in is an HTTP proxy on 127.0.0.1: the client is sent to it by
``HTTPS_PROXY``, asks it to CONNECT to the mirror, and the proxy answers the TLS handshake itself with a
certificate of a throw-away authority that the client trusts through ``REQUESTS_CA_BUNDLE``
(:func:`environment`). Inside the tunnel it answers the POSTed query script (``-source=<catalogue>``,
``-out.add=_RAJ2000,_DEJ2000``, ``-out.max=unlimited``) with a VOTable of the catalogue, as VizieR does: one
TABLE named after the catalogue, columns named by the ReadMe labels, the computed J2000 positions first.

Faults (``faults``: a list, each taken once, in order, by the next queries): ``500``, ``503``, ``503-retry``
(Retry-After: 1), ``reset`` (the connection closed without an answer), ``timeout`` (no answer for longer than
the client waits), ``empty`` (a valid VOTable without a table, VizieR's answer to an unknown catalogue),
``malformed`` (a VOTable cut short), ``html`` (an error page where the VOTable should be).
"""

from __future__ import annotations

import io
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np

from .server import HTTP_FAULTS, LocalServer, http_fault, send
from .tls import authority, server_context

MIRRORS = ["vizier.cds.unistra.fr", "vizier.cfa.harvard.edu", "vizier.nao.ac.jp", "vizier.hia.nrc.ca",
           "vizier.ast.cam.ac.uk", "vizier.iucaa.ernet.in", "vizier.china-vo.org"]


class VizierStandIn(LocalServer):
    """VizieR behind a local CONNECT proxy. ``catalogues``: VizieR id -> CDS folder (ReadMe + data file), an
    astropy Table, or {table name: either} for a catalogue of several tables (served in that order, each named
    ``<id>/<table name>`` as VizieR names them); ``queries`` records every query script it was sent."""

    def __init__(self, catalogues: dict, folder: Path, faults: list | None = None, timeout_s: float = 5.0):
        self.catalogues, self.faults, self.timeout_s = dict(catalogues), list(faults or []), timeout_s
        self.queries, self._lock = [], threading.Lock()
        self.files = authority(Path(folder) / "tls", MIRRORS)
        context, stand_in = server_context(self.files), self

        class Tunnel(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                stand_in._answer(self, body)

        class Proxy(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_CONNECT(self):
                if self.path.split(":")[0] not in MIRRORS:
                    self.send_error(403, "this stand-in only answers for the VizieR mirrors")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                try:
                    tunnel = context.wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                Tunnel(tunnel, self.client_address, self.server)
                self.close_connection = True

        self._listen(Proxy)
        self.proxy = f"http://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------------------------------------- answers

    def _answer(self, handler, body: str):
        query = script(body)
        with self._lock:
            self.queries.append(query)
            fault = self.faults.pop(0) if self.faults else None
        if fault in HTTP_FAULTS:
            return http_fault(handler, fault)
        if fault == "timeout":
            time.sleep(self.timeout_s)
        if fault == "html":
            return send(handler, 200, b"<html><body>VizieR is down for maintenance</body></html>", "text/html")
        source = query.get("-source", "")
        found = None if fault == "empty" else self.catalogues.get(source)
        parts = found if isinstance(found, dict) else {"": found} if found is not None else {}
        data = votable({f"{source}/{k}" if k else source: self._table(v, query) for k, v in parts.items()})
        if fault == "malformed":
            data = data[: len(data) // 2]
        return send(handler, 200, data, "text/xml")

    def _table(self, found, query: dict):
        """A catalogue table as VizieR sends it: the computed J2000 positions first, at most ``-out.max`` rows."""
        from astropy.io import ascii
        from astropy.table import Table

        if not isinstance(found, Table):
            folder = Path(found)
            data = next(p for p in sorted(folder.iterdir()) if p.name != "ReadMe")
            found = ascii.read(data, readme=str(folder / "ReadMe"), format="cds")
        table = found.copy()
        added = [c for c in query.get("-out.add", "").split(",") if c]
        radec = positions(table) if added else None
        if radec is not None:  # VizieR adds them to the tables that have positions
            for name, values in zip(("_RAJ2000", "_DEJ2000"), radec):
                if name in added:
                    table.add_column(np.round(values, 7), name=name, index=0 if name == "_RAJ2000" else 1)
        limit = query.get("-out.max", "50")
        return table if limit == "unlimited" else table[: int(limit)]


def script(body: str) -> dict:
    """The keywords of an ASU query script (one ``-key=value`` per line; a bare ``-key`` maps to '')."""
    out = {}
    for line in body.splitlines():
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def positions(table) -> tuple | None:
    """(RA, Dec) in degrees of a CDS table: RAdeg/DEdeg, else the sexagesimal parts; None if it has neither."""
    if not ({"RAdeg", "DEdeg"} <= set(table.colnames) or {"RAh", "DEd"} <= set(table.colnames)):
        return None
    if "RAdeg" in table.colnames:
        return np.asarray(table["RAdeg"], float), np.asarray(table["DEdeg"], float)
    hours = np.asarray(table["RAh"], float) + np.asarray(table["RAm"], float) / 60 + np.asarray(table["RAs"], float) / 3600
    sign = np.where(np.asarray(table["DE-"]).astype(str) == "-", -1.0, 1.0)
    degrees = np.asarray(table["DEd"], float) + np.asarray(table["DEm"], float) / 60 + np.asarray(table["DEs"], float) / 3600
    return 15 * hours, sign * degrees


def votable(tables: dict) -> bytes:
    """A VOTable document: one resource holding the tables {name: astropy Table}, or no table at all."""
    from astropy.io.votable import from_table
    from astropy.io.votable.tree import Resource, VOTableFile

    document = VOTableFile()
    resource = Resource()
    document.resources.append(resource)
    for name, table in tables.items():
        part = from_table(table).resources[0].tables[0]
        part.name = name
        resource.tables.append(part)
    out = io.BytesIO()
    document.to_xml(out)
    return out.getvalue()
