"""A SkyView stand-in on 127.0.0.1: what astroquery's SkyView client sends and reads, answered from local arrays.

astroquery is pointed at it through its own configuration (``[skyview] url`` in ``astroquery.cfg`` under
``$XDG_CONFIG_HOME/astropy``: :func:`standins.environment`), so the project's network code runs unchanged in
a subprocess. The server answers

* ``GET /current/cgi/basicform.pl``: the query form (its ``survey`` selects list the four GLEAM surveys);
* ``GET /current/cgi/runquery.pl?Position=..&survey=..&pixels=..&size=..``: the result page, one ``FITS`` link per
  survey;
* ``GET /tempspace/fits/<id>.fits``: a FITS image of the requested survey, position and pixel count (noise of the
  band's rms and one compact source at the centre, a TAN header like SkyView's).

Faults are set per position (``(ra, dec)`` in degrees, rounded to 3 decimals) in ``faults``: a list of what the
next requests for that position meet, each once, in order (a query's fault hits its result page; ``fits:`` before
the name, e.g. ``fits:truncated``, hits the image download instead): ``500``, ``503``, ``503-retry``
(Retry-After: 1), ``reset`` (the connection closed without an answer), ``slow`` (2 s before a good answer),
``timeout`` (no answer for longer than the client waits), ``truncated`` (a FITS cut short), ``html`` (an error page
where the FITS should be), ``size`` (a FITS of 200 x 200 pixels), ``survey`` (a FITS of another band's frequency).
"""

from __future__ import annotations

import functools
import io
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from astropy.io import fits

from .server import HTTP_FAULTS, LocalServer, http_fault, send

BANDS = {"72-103": 87.5e6, "103-134": 118.5e6, "139-170": 154.5e6, "170-231": 200.5e6}
RMS = {"72-103": 0.054, "103-134": 0.023, "139-170": 0.015, "170-231": 0.0085}  # Jy/beam, 01_noise medians

FORM = """<html><body><form method="get" action="runquery.pl">
<input type="text" name="Position" value="">
<select name="survey" id="Radio:GLEAM" multiple>{options}</select>
<input type="text" name="pixels" value="300">
<input type="text" name="size" value="">
<input type="submit" value="Submit">
</form></body></html>"""


class SkyViewStandIn(LocalServer):
    """A threaded HTTP server answering astroquery's SkyView client; ``requests`` records what it was asked."""

    def __init__(self, faults: dict | None = None, timeout_s: float = 5.0, fields=None, latency_s: float = 0.0):
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.requests, self.times, self.images = [], [], {}
        self.timeout_s, self.latency_s = timeout_s, latency_s
        self.fields = None if fields is None else published(fields)
        self._lock = threading.RLock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stand_in._answer(self)

        self._listen(Handler)
        self.url = f"http://127.0.0.1:{self.port}/current/cgi/basicform.pl"

    # ----------------------------------------------------------------------------------------------- answers

    def _fault(self, position: str, where: str) -> str | None:
        """The next fault of ``position`` at ``where`` ('query' or 'fits'), taken off its list, or None."""
        key = place(position)
        with self._lock:
            queue = self.faults.get(key, [])
            if queue and (queue[0].startswith("fits:") == (where == "fits")):
                return queue.pop(0).removeprefix("fits:")
        return None

    def _answer(self, handler):
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append((url.path, query))
            self.times.append(time.monotonic())
        if url.path.endswith("basicform.pl"):
            options = "".join(f"<option>GLEAM {band} MHz</option>" for band in BANDS)
            return send(handler, 200, FORM.format(options=options).encode(), "text/html")
        if url.path.endswith("runquery.pl"):
            return self._result_page(handler, query)
        if url.path.startswith("/tempspace/fits/"):
            return self._fits(handler, Path(url.path).stem)
        return send(handler, 404, b"not found", "text/plain")

    def _result_page(self, handler, query: dict):
        position = query.get("Position", "")
        fault = self._fault(position, "query")
        if fault in (*HTTP_FAULTS, "timeout"):
            return self._misbehave(handler, fault)
        if fault == "slow":
            time.sleep(2.0)
        time.sleep(self.latency_s)
        survey = query.get("survey", "")
        band = survey.removeprefix("GLEAM ").removesuffix(" MHz")
        if band not in BANDS:
            return send(handler, 200, b"<html><body>No such survey</body></html>", "text/html")
        key = f"img{len(self.images)}"
        with self._lock:
            self.images[key] = dict(position=position, band=band, pixels=int(query.get("pixels", 300)),
                                    size=float(str(query.get("size", "3.6666")).split(",")[0]),
                                    fault=self._fault(position, "fits"))
        page = f'<html><body><a href="../../tempspace/fits/{key}.fits">FITS</a></body></html>'
        return send(handler, 200, page.encode(), "text/html")

    def _fits(self, handler, key: str):
        job = self.images.get(key)
        if job is None:
            return send(handler, 404, b"expired", "text/plain")
        fault = job["fault"]
        if fault in (*HTTP_FAULTS, "timeout"):
            return self._misbehave(handler, fault)
        if fault == "slow":
            time.sleep(2.0)
        if fault == "html":
            return send(handler, 200, b"<html><body>Error: image not available</body></html>", "text/html")
        pixels = 200 if fault == "size" else job["pixels"]
        band = "72-103" if fault == "survey" and job["band"] != "72-103" else job["band"]
        data = image(job["position"], band, pixels, job["size"], self.fields)
        if fault == "truncated":
            data = data[: len(data) // 2]
        return send(handler, 200, data, "application/fits")

    def _misbehave(self, handler, fault: str):
        if fault == "timeout":
            time.sleep(self.timeout_s)
            return send(handler, 504, b"gateway time-out", "text/plain")
        return http_fault(handler, fault)


def place(position: str) -> tuple:
    """(ra, dec) in degrees, rounded to 3 decimals, of a position as astroquery sends it ("ra dec")."""
    ra, dec = (float(v) for v in position.replace(",", " ").split()[:2])
    return round(ra, 3), round(dec, 3)


def published(root) -> list:
    """The band files of the published GLEAM fields under ``root``: a list of {band: path}, one per source."""
    sources = {}
    for path in sorted(Path(root).rglob("*_Gleam*_clipped.fits")):
        source, _, rest = path.name.rpartition("_Gleam")
        sources.setdefault(source, {})[rest.removesuffix("_clipped.fits").removesuffix("MHz")] = path
    found = [files for _, files in sorted(sources.items()) if set(files) == set(BANDS)]
    if not found:
        raise FileNotFoundError(f"{root}: no source with all four published GLEAM bands")
    return found


@functools.lru_cache(maxsize=None)
def _pixels(path) -> np.ndarray:
    """The image of a published file (read once: a search asks for each field many times)."""
    return np.asarray(fits.getdata(path), np.float32).squeeze()


def image(position: str, band: str, pixels: int, size_deg: float, fields: list | None = None) -> bytes:
    """A FITS file like SkyView's: ``pixels`` square, ``size_deg`` across, centred on ``position`` ("ra dec" in
    degrees). Its pixels: with ``fields`` (:func:`published`), a published GLEAM field chosen by the position (the
    same position always gets the same field), cut to ``pixels``; else the band's noise and one compact source of
    20 rms at the centre, seeded by the position."""
    ra, dec = (float(v) for v in position.replace(",", " ").split()[:2])
    seed = [int(abs(ra) * 1e4), int(abs(dec) * 1e4)]
    if fields:
        source = fields[int(np.random.default_rng(seed).integers(len(fields)))]
        cut = _pixels(source[band])
        top = (cut.shape[0] - pixels) // 2
        data = cut[top:top + pixels, top:top + pixels].copy()  # NaN where the published field has none, as SkyView
    else:
        rng = np.random.default_rng(seed + [int(BANDS[band] / 1e6)])
        data = rng.normal(0.0, RMS[band], (pixels, pixels)).astype(np.float32)
        yy, xx = np.mgrid[:pixels, :pixels] - (pixels - 1) / 2
        data += np.float32(20 * RMS[band]) * np.exp(-(yy**2 + xx**2) / (2 * 2.0**2)).astype(np.float32)
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRPIX1"] = header["CRPIX2"] = pixels / 2 + 0.5
    header["CDELT1"], header["CDELT2"] = -size_deg / pixels, size_deg / pixels
    header["CRVAL1"], header["CRVAL2"] = ra, dec
    header["CUNIT1"] = header["CUNIT2"] = "deg"
    header["BUNIT"] = "JY/BEAM"
    header["FREQ"] = BANDS[band]
    header["SURVEY"] = f"GLEAM {band} MHz"
    out = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(out)
    return out.getvalue()
