"""Compiled loops of :mod:`speechgen.audio.phase`: the heap integrations of PGHI and RTPGHI (numba).

Imported lazily by :mod:`speechgen.audio.phase` (numba's import and the first call's compilation stay out of
``import speechgen``). The functions are compiled with ``cache=True``: numba writes the machine code beside this file
(``__pycache__``) or, where the package folder is read-only, under the user's cache folder
(``NUMBA_CACHE_DIR``, else ``~/.cache/numba``); where neither can be written, they are compiled on the first call
of each process without a cache. Without numba the same functions run as plain Python (correct, ~100x slower).

Layout: magnitudes, phase steps and phases are C-contiguous float64 ``[batch, bins, frames]``; a bin ``(k, m)`` of one
item is the flat index ``k * frames + m``. The heap is a binary max-heap on two arrays (priority: magnitude).
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - which branch runs depends on the install
    import numba

    def _jit(func):
        try:
            return numba.njit(cache=True, nogil=True)(func)
        except (RuntimeError, OSError):  # no writable cache folder anywhere: compile per process
            return numba.njit(cache=False, nogil=True)(func)

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    def _jit(func):
        return func

    HAVE_NUMBA = False


@_jit
def _push(vals, idxs, n, v, i):
    """Push ``(v, i)`` on the max-heap of size ``n``; return the new size."""
    j = n
    while j > 0:
        p = (j - 1) >> 1
        if vals[p] >= v:
            break
        vals[j] = vals[p]
        idxs[j] = idxs[p]
        j = p
    vals[j] = v
    idxs[j] = i
    return n + 1


@_jit
def _sift_down(vals, idxs, n, j):
    """Move the entry at ``j`` down the max-heap of size ``n`` to its place."""
    v = vals[j]
    i = idxs[j]
    while True:
        c = 2 * j + 1
        if c >= n:
            break
        if c + 1 < n and vals[c + 1] > vals[c]:
            c += 1
        if vals[c] <= v:
            break
        vals[j] = vals[c]
        idxs[j] = idxs[c]
        j = c
    vals[j] = v
    idxs[j] = i


@_jit
def _pop(vals, idxs, n):
    """Pop the largest entry of the max-heap of size ``n``; return ``(its index, new size)``."""
    top = idxs[0]
    n -= 1
    if n > 0:
        vals[0] = vals[n]
        idxs[0] = idxs[n]
        _sift_down(vals, idxs, n, 0)
    return top, n


@_jit
def pghi_integrate(mag, step_t, step_f, fill, tol, phase):
    """Heap integration (Průša, Balazs & Søndergaard 2017, Algorithm 1) of every item of ``[batch, bins, frames]``.

    ``step_t[k, m]``: phase advance per frame at bin ``(k, m)``; ``step_f[k, m]``: advance per bin. Bins with
    ``mag < tol · max(mag of the item)`` keep ``fill``; the others are reached from the largest unvisited one (phase
    0) outward, largest first, each from a visited neighbour by the trapezoid rule. Writes ``phase`` (unwrapped).
    """
    batch, bins, frames = mag.shape
    n = bins * frames
    vals = np.empty(n, np.float64)
    idxs = np.empty(n, np.int64)
    seed_vals = np.empty(n, np.float64)
    seed_idxs = np.empty(n, np.int64)
    done = np.empty(n, np.bool_)
    for b in range(batch):
        a = mag[b].ravel()
        st = step_t[b].ravel()
        sf = step_f[b].ravel()
        out = phase[b].ravel()
        fl = fill[b].ravel()
        peak = 0.0
        for i in range(n):
            peak = max(peak, a[i])
        thresh = tol * peak
        n_live = 0
        for i in range(n):
            out[i] = fl[i]
            if peak > 0.0 and a[i] >= thresh and a[i] > 0.0:
                done[i] = False
                seed_vals[n_live] = a[i]
                seed_idxs[n_live] = i
                n_live += 1
            else:
                done[i] = True
        for j in range(n_live // 2 - 1, -1, -1):  # restart points: a max-heap of the live bins
            _sift_down(seed_vals, seed_idxs, n_live, j)
        n_seeds = n_live
        size = 0
        while n_live > 0:
            s, n_seeds = _pop(seed_vals, seed_idxs, n_seeds)
            if done[s]:
                continue
            out[s] = 0.0
            done[s] = True
            n_live -= 1
            size = _push(vals, idxs, size, a[s], s)
            while size > 0:
                i, size = _pop(vals, idxs, size)
                k = i // frames
                m = i - k * frames
                p = out[i]
                if m + 1 < frames and not done[i + 1]:
                    out[i + 1] = p + 0.5 * (st[i] + st[i + 1])
                    done[i + 1] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, a[i + 1], i + 1)
                if m > 0 and not done[i - 1]:
                    out[i - 1] = p - 0.5 * (st[i] + st[i - 1])
                    done[i - 1] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, a[i - 1], i - 1)
                if k + 1 < bins and not done[i + frames]:
                    out[i + frames] = p + 0.5 * (sf[i] + sf[i + frames])
                    done[i + frames] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, a[i + frames], i + frames)
                if k > 0 and not done[i - frames]:
                    out[i - frames] = p - 0.5 * (sf[i] + sf[i - frames])
                    done[i - frames] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, a[i - frames], i - frames)


@_jit
def rtpghi_frame(mag_prev, mag_cur, st_prev, st_cur, sf_cur, phase_prev, fill_cur, tol, phase_cur, vals, idxs,
                 done):
    """One frame of RTPGHI (Průša & Holighaus 2017): the phase ``phase_cur [bins]`` of the current frame from the
    previous frame's ``phase_prev`` (fixed). Bins under ``tol · max(both frames)`` keep ``fill_cur``. A heap over
    the previous frame's live bins and the current frame's: a previous bin hands its phase on in time (trapezoid
    rule on ``st``), a current bin to its frequency neighbours (``sf_cur``). Current bins no heap reaches (an onset)
    are integrated in time from the previous frame's phase, largest first. ``vals``, ``idxs`` (``2 · bins``) and
    ``done`` (``bins``) are scratch space."""
    bins = mag_cur.shape[0]
    peak = 0.0
    for k in range(bins):
        peak = max(peak, mag_cur[k], mag_prev[k])
    thresh = tol * peak
    size = 0
    n_live = 0
    for k in range(bins):
        phase_cur[k] = fill_cur[k]
        live = peak > 0.0 and mag_cur[k] >= thresh and mag_cur[k] > 0.0
        done[k] = not live
        if live:
            n_live += 1
        if peak > 0.0 and mag_prev[k] >= thresh and mag_prev[k] > 0.0:
            size = _push(vals, idxs, size, mag_prev[k], k)  # previous frame: index k
    if n_live == 0:
        return
    while True:
        while size > 0:
            i, size = _pop(vals, idxs, size)
            if i < bins:  # previous frame: hand the phase on in time
                if not done[i]:
                    phase_cur[i] = phase_prev[i] + 0.5 * (st_prev[i] + st_cur[i])
                    done[i] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, mag_cur[i], bins + i)
            else:  # current frame: hand it on in frequency
                k = i - bins
                p = phase_cur[k]
                if k + 1 < bins and not done[k + 1]:
                    phase_cur[k + 1] = p + 0.5 * (sf_cur[k] + sf_cur[k + 1])
                    done[k + 1] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, mag_cur[k + 1], bins + k + 1)
                if k > 0 and not done[k - 1]:
                    phase_cur[k - 1] = p - 0.5 * (sf_cur[k] + sf_cur[k - 1])
                    done[k - 1] = True
                    n_live -= 1
                    size = _push(vals, idxs, size, mag_cur[k - 1], bins + k - 1)
        if n_live == 0:
            return
        k = -1
        best = -1.0
        for j in range(bins):  # the largest current bin no heap reached (few per frame: a linear search)
            if not done[j] and mag_cur[j] > best:
                best = mag_cur[j]
                k = j
        phase_cur[k] = phase_prev[k] + 0.5 * (st_prev[k] + st_cur[k])
        done[k] = True
        n_live -= 1
        size = _push(vals, idxs, size, mag_cur[k], bins + k)


@_jit
def rtpghi_integrate(mag, step_t, step_f, fill, tol, phase):
    """RTPGHI of every item of ``[batch, frames, bins]`` (note: frames before bins, so that each frame is
    contiguous), frame by frame (:func:`rtpghi_frame`; the first frame continues a silent frame of phase 0).
    Writes ``phase``."""
    batch, frames, bins = mag.shape
    vals = np.empty(2 * bins, np.float64)
    idxs = np.empty(2 * bins, np.int64)
    done = np.empty(bins, np.bool_)
    zeros = np.zeros(bins, np.float64)
    for b in range(batch):
        for m in range(frames):
            if m == 0:
                rtpghi_frame(zeros, mag[b, 0], step_t[b, 0], step_t[b, 0], step_f[b, 0], zeros, fill[b, 0], tol,
                             phase[b, 0], vals, idxs, done)
            else:
                rtpghi_frame(mag[b, m - 1], mag[b, m], step_t[b, m - 1], step_t[b, m], step_f[b, m],
                             phase[b, m - 1], fill[b, m], tol, phase[b, m], vals, idxs, done)
