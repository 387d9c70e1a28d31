"""Notebook 1: from text to training data.

- `corpus`: where text comes from (the built-in corpus, the original Reddit CSV, any text
  file, named downloads); `frozen` reads the built-in corpus from the data file shipped
  here (the same on every Python), `builtin` and `prose` build it from the running
  Python's own documentation, `freeze` writes the data file; `fetch` does the downloading
  (deadline, checksum, atomic write);
- `vocab`: sentences, tokens, the vocabulary, X/y;
- `benchmark`: the one train/validation/test split, by source, behind every held-out
  number (notebooks 4-8);
- `grammar`: a synthetic language whose entropy is known exactly;
- `batching`: ragged sentences as a few padded shapes (notebooks 4-7).
"""
