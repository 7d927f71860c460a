"""The local web app of ``speechgen serve``: generate digits, speak digit strings and run copy synthesis from a
browser.

:mod:`speechgen.web.app` holds the models, their caches and the request handling (standard library
``http.server``); :mod:`speechgen.web.page` the page, its style sheet and script (no external assets, so the page
works offline).
"""
