"""
Metadata of maps whose pixel grid is refined ×2: the WCS, the stale keywords, the provenance.

Enhance's output pixel ``(2p, 2p+1)`` subdivides input pixel ``p``, exactly as nearest-neighbour
upsampling (and `sunpy.map.GenericMap.resample`) lays it out: the centre of input pixel ``p`` (0-based)
lies at output pixel coordinate ``2p + 0.5``. With FITS' 1-based ``CRPIX`` this means
``CRPIX' = 2 CRPIX - 0.5``; the original Enhance code wrote ``2 CRPIX`` and shifted its maps by half an
output pixel.
"""
import datetime

__all__ = ["STALE_KEYWORDS", "add_provenance", "refined_meta"]

#: Keywords that describe the input's pixel values or encoding and are wrong for the output.
STALE_KEYWORDS = (
    "datamin", "datamax", "datamean", "datamedn", "datarms", "dataskew", "datakurt", "datavals",
    "missvals", "totvals", "datap01", "datap10", "datap25", "datap75", "datap90", "datap95", "datap98",
    "datap99", "blank", "bscale", "bzero", "checksum", "datasum", "zblank", "zquantiz", "zdither0",
)


def refined_meta(meta, factor=2):
    """
    A copy of a map's metadata for the same field of view sampled ``factor`` times finer.

    Parameters
    ----------
    meta : dict-like
        FITS-like map metadata (e.g. ``smap.meta``); not modified.
    factor : int, optional
        Refinement of the pixel grid along each axis.

    Returns
    -------
    `sunpy.util.MetaDict`
        ``CRPIXi → factor·(CRPIXi − 0.5) + 0.5``, ``CDELTi / factor``, ``CDi_j / factor``, ``PCi_j``,
        ``CROTA2``, ``CRVALi`` unchanged, ``NAXISi × factor``, ``R_SUN`` (disk radius in pixels)
        × factor, and the keywords in `STALE_KEYWORDS` removed.

    Examples
    --------
    >>> from sunpy_enhance.header import refined_meta
    >>> meta = refined_meta({"crpix1": 2048.5, "cdelt1": 0.504, "naxis1": 4096})
    >>> meta["crpix1"], meta["cdelt1"], meta["naxis1"]
    (4096.5, 0.252, 8192)
    """
    from sunpy.util import MetaDict

    new = MetaDict(dict(meta))  # a copy: the caller's metadata is never modified
    for i in (1, 2):
        if f"crpix{i}" in new:
            new[f"crpix{i}"] = factor * (float(new[f"crpix{i}"]) - 0.5) + 0.5
        if f"cdelt{i}" in new:
            new[f"cdelt{i}"] = float(new[f"cdelt{i}"]) / factor
        if f"naxis{i}" in new:
            new[f"naxis{i}"] = int(new[f"naxis{i}"]) * factor
        for j in (1, 2):
            if f"cd{i}_{j}" in new:
                new[f"cd{i}_{j}"] = float(new[f"cd{i}_{j}"]) / factor
    if "r_sun" in new:
        new["r_sun"] = float(new["r_sun"]) * factor
    for key in STALE_KEYWORDS:
        new.pop(key, None)
    return new


def add_provenance(meta, history, **keywords):
    """
    Record what sunpy-enhance did to a map in its metadata (in place on a copy the caller owns).

    The same keywords for every method: ``ENHVER`` (package version) always; by convention ``ENHMETH`` (the
    method, e.g. ``"denoise"``, ``"richardson-lucy"``), ``ENHMODEL`` and ``ENHMDATE`` (the model's name and
    creation date) where a model was used, and the method's own parameters.

    Parameters
    ----------
    meta : `sunpy.util.MetaDict` or `astropy.io.fits.Header`
        Metadata of the *output* map, or the FITS header of an output that is not a map (a cube).
    history : str
        One sentence appended as a ``HISTORY`` card.
    **keywords
        FITS keywords (≤ 8 characters) to set, e.g. ``ENHMODEL="enhance-continuum"``.

    Returns
    -------
    `sunpy.util.MetaDict` or `astropy.io.fits.Header`
        ``meta`` itself.
    """
    from sunpy_enhance.version import __version__

    for key in keywords:
        if len(key) > 8:
            msg = f"FITS keyword {key!r} is longer than 8 characters."
            raise ValueError(msg)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    line = f"sunpy-enhance {__version__} {stamp}: {history}"
    if hasattr(meta, "add_history"):  # an astropy.io.fits.Header: one HISTORY card more
        meta.add_history(line)
    else:
        old = meta.get("history", "")
        meta["history"] = f"{old}\n{line}" if old else line
    meta["enhver"] = __version__
    for key, value in keywords.items():
        meta[key.lower()] = value
    return meta
