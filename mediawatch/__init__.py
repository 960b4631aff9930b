"""mediawatch: collect news coverage of a watch-list, archive it, alert on spikes."""

__version__ = "0.1.0"
