"""``python -m utils.course``: run the whole course (see ``utils.course.runner``)."""

import sys

from utils.course.runner import main

sys.exit(main())
