"""A module whose import spins in Python code forever, holding the GIL
between the interpreter's switches: the timeout must end it."""

while True:
    pass
