"""Not a lesson: the command line (`cli`, `args`), the bench, `make book` and `make lab`."""
