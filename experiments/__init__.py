"""Studies behind the tables in docs/: the robustness experiment, channel-shifted copies,
the benchmark. Run from the clone's root: ``python -m experiments.<name> --help``."""
