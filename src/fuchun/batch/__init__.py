"""Many pictures (and videos) in one go: job lists, workers that load the network once, Ray.

``jobs`` reads the list (a TOML, CSV or JSONL file, or every pair of two folders), ``worker``
makes one job's output in a process that keeps its network, ``local`` runs the jobs on this
machine's worker processes and ``cluster`` as Ray tasks (``pip install "fuchun[cluster]"``).
A finished output is never made again, so a rerun of the same batch does only what is left.
"""
