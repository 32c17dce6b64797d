"""``python -m anode_cathode <step>``: the same command line as ``anode-cathode``."""

import sys

from anode_cathode.cli import main

if __name__ == "__main__":
    sys.exit(main())
