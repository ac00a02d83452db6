"""Fitting a run to its machine's memory: ``--size max``, and the plan of the last level.

The loss terms' memory comes from their rows (:data:`fuchun.losses.terms.TERMS`); the network's,
the optimiser's and the allocator's from :mod:`fuchun.run.memory`.
"""

from __future__ import annotations

import dataclasses
import math

from fuchun.config.options import Config
from fuchun.config.parse import MAX_SIDE
from fuchun.losses.terms import TERMS, Maps, Term
from fuchun.net.features import VGGFeatures
from fuchun.run.job import Job, output_size
from fuchun.run.machine import Machine
from fuchun.run.memory import BYTES, Loads, Plan, available_bytes, largest_side, plan
from fuchun.run.optimise import load_optimisers
from fuchun.run.schedule import Level

MEMORY_SHARE = 0.9  # of the free memory a run may plan to use


def fit(cfg: Config, job: Job, net: VGGFeatures, machine: Machine) -> tuple[Config, Plan]:
    """``cfg`` with ``--size max`` resolved, and the plan of its last level (MemoryPlanError if it
    cannot fit)."""
    load_optimisers()  # before the free memory is read
    terms = active_terms(cfg, job)
    kw = dict(
        arch=net.arch,
        deepest=net.deepest([layer for t in terms for layer in t.layers(cfg)] or ["relu1_1"]),
        precision=machine.precision,
        optimizer=cfg.optimizer,
        device=machine.device.type,
    )
    budget = int(available_bytes(machine.device) * MEMORY_SHARE)
    if cfg.size == "max":
        ref = output_size(dataclasses.replace(cfg, size=1024), job)
        loads = term_loads(cfg, job, net, ref, machine.precision)
        cfg = dataclasses.replace(cfg, size=min(largest_side(ref, budget=budget, loads=loads, **kw), MAX_SIDE))
    final = output_size(cfg, job)
    loads = term_loads(cfg, job, net, final, machine.precision)
    return cfg, plan(final, budget=budget, history=cfg.lbfgs_history, loads=loads, **kw)


def active_terms(cfg: Config, job: Job) -> list[Term]:
    """The terms of ``cfg`` that ``job`` gives something to match."""
    has = {"content": job.content is not None, "style": bool(job.styles)}
    out = []
    for term in TERMS:
        if term.source == "pixels":
            present = term.weight is not None or getattr(job, term.name, None) is not None
        else:
            present = has[term.source]
        if present and term.on(cfg):
            out.append(term)
    return out


def term_loads(cfg: Config, job: Job, net: VGGFeatures, size: tuple[int, int], precision: str) -> Loads:
    """What the objective of ``cfg`` and ``job`` holds at output ``size`` = (W, H), for the planner."""

    def per_pixel(names) -> float:  # channels per input pixel, summed over the layers
        return float(sum(net.channels(n) / 4 ** (int(n[4]) - 1) for n in set(names)))

    level = Level.at(cfg, size)
    style_px = sum(math.prod(level.style_size(s)) for s in job.styles)
    fixed_style = cfg.style_size is not None
    resampled = fixed_style or style_px != math.prod(size)
    maps, rows, step, table, build, extra = set(), set(), 0.0, 0.0, 0.0, 0
    for term in active_terms(cfg, job):
        layers = term.layers(cfg)
        widest = max((per_pixel([n]) for n in layers), default=0.0)
        load = term.load(Maps(per_pixel(layers), widest, BYTES[precision], resampled))
        step, table, build, extra = step + load.step, table + load.table, max(build, load.build), extra + load.fixed
        maps |= set(layers) if term.source == "style" else set()
        rows |= set(layers) if term.rows else set()
    return Loads(
        maps=per_pixel(maps),
        rows=per_pixel(rows),
        step=step,
        table=table,
        build=build,
        fixed=extra,
        style_per_pixel=0.0 if fixed_style else style_px / math.prod(size),
        style_pixels=style_px if fixed_style else 0,
    )
