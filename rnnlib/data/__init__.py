"""Notebook 1: from text to training data.

- `corpus`: where text comes from (the built-in corpus, the original Reddit CSV, any text
  file, named downloads); `builtin` and `prose` build the built-in corpus from Python's
  own documentation; `fetch` does the downloading (deadline, checksum, atomic write);
- `vocab`: sentences, tokens, the vocabulary, X/y;
- `grammar`: a synthetic language whose entropy is known exactly;
- `batching`: ragged sentences as a few padded shapes (notebooks 4-7).
"""
