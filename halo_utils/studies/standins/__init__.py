"""Stand-in servers on 127.0.0.1 for the networked paths: SkyView (HTTP) and VizieR (HTTPS, through a local
CONNECT proxy that holds a certificate of a throw-away authority). astroquery reaches both through its own
configuration and the environment that :func:`environment` returns, so the project's code runs unchanged."""

from pathlib import Path

from .skyview import SkyViewStandIn, image, place
from .vizier import VizierStandIn

__all__ = ["SkyViewStandIn", "VizierStandIn", "environment", "image", "place"]


def environment(folder: Path, skyview=None, vizier=None) -> dict:
    """Environment variables that point astroquery (in a new process) at the stand-ins and keep its
    configuration and caches in ``folder``: SkyView through ``[skyview] url`` in astroquery.cfg, VizieR through
    ``HTTPS_PROXY`` and the authority in ``REQUESTS_CA_BUNDLE``."""
    folder = Path(folder)
    config = folder / "config" / "astropy"
    config.mkdir(parents=True, exist_ok=True)
    (config / "astroquery.cfg").write_text(f"[skyview]\nurl = {skyview.url}\n" if skyview else "")
    (folder / "cache" / "astropy").mkdir(parents=True, exist_ok=True)
    env = dict(XDG_CONFIG_HOME=str(folder / "config"), XDG_CACHE_HOME=str(folder / "cache"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HTTP_PROXY="", http_proxy="")
    if vizier is not None:
        env.update(HTTPS_PROXY=vizier.proxy, https_proxy=vizier.proxy, REQUESTS_CA_BUNDLE=str(vizier.files["ca"]))
    else:
        env.update(HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")  # nothing leaves this machine
    return env
