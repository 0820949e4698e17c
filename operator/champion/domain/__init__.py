"""Pure decisions (rollout state machine, judge, placement, eval scoring).

Nothing here performs I/O or reads a clock: time is always a parameter.
"""
