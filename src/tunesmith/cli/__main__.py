"""``python -m tunesmith.cli``: the command line, as the Accelerate/torchrun relaunch and the README start it."""

from tunesmith.cli import main

if __name__ == "__main__":
    main()
