"""``python -m seal_ros.cli`` (and ``torchrun -m seal_ros.cli``): the same as ``python -m seal_ros``."""
import sys

from seal_ros.cli import main

sys.exit(main())
