"""Time: the database's naive UTC, durations as config writes them, ``--since``/``--until``."""
