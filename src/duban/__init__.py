"""督办 duban: a deadline-calendar engine that keeps a government work plan on schedule."""

__version__ = "0.1.0"
