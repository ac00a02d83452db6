"""One run from start to finish: the schedule, the machine, the memory plan, the optimiser, progress, checkpoints."""
