import sys

from seal_ros.cli import main

sys.exit(main())
