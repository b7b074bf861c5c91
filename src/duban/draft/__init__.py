"""`duban draft`: from a plan document (text, Markdown, Word) to a draft catalog.

The pipeline, one module each: reader (document -> lines), clauses (numbering -> refs and
sentences), dates / rhythms / targets / owners (the words that set a task), obligations
(sentences -> tasks and 待定 items), units (the county's own unit list), writer (catalog YAML
with comments), diff (a revised document against an existing catalog). Nothing in the engine
imports this package; it imports the catalog only to validate what it writes.
"""
