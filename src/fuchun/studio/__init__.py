"""fuchun studio: the browser app over the same engine as the command line.

``fuchun studio`` (or :func:`fuchun.studio.server.serve`) starts it; it needs the
optional extra: ``pip install "fuchun[studio]"``. Modules, from the page down:
``app`` (events), ``layout`` (components), ``service`` (checks, the board, results),
``runner`` (the engine on a thread, previews, Stop), ``limits`` (what uploads and
sizes are accepted), ``paint`` (masks painted in the browser), ``files`` (a job's
folder and downloads), ``command`` (the equivalent command line), ``settings``
(the controls and their CLI defaults), ``server`` (launching it safely).
"""
