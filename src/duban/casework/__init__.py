"""Casework beyond the catalog: items the office hands out (交办), inspection problems to rectify (问题清单),
extensions (延期), and the rectification counts (问题整改)."""
