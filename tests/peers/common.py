"""What the python test peers share."""


def timeout_arg(argv, default):
    """Takes a leading "--timeout S" off argv: returns (S, or default when
    it is not there, and the arguments after it)."""
    if len(argv) >= 2 and argv[0] == "--timeout":
        return float(argv[1]), argv[2:]
    return default, argv
