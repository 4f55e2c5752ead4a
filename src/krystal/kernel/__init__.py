"""The zero-dependency numeric heart of Krystal.

Standard library only and within the MicroPython subset: no ``dataclasses``, ``enum``
or ``typing`` at run time, floats and lists, relative imports only, so the same files
run on CPython, Pyodide and MicroPython and give the same numbers for the same seed.
"""
