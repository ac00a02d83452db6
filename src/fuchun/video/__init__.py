"""Stylised video without flicker (Ruder, Dosovitskiy & Brox 2016, arXiv 1604.08610).

``frames`` reads and writes video files with PyAV (frame rate and audio kept), ``flow``
computes optical flow with OpenCV and the consistency weights of the temporal loss, ``cache``
keeps each finished frame on disk so an interrupted video goes on at the next frame, and
``stylise`` runs the engine frame by frame, each frame starting from the previous one warped.
Needs the ``video`` extra: ``pip install "fuchun[video]"``.
"""
