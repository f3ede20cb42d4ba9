"""The ``demine`` command line: a thin face over :mod:`demine.services`."""
