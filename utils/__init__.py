"""AI Crossroads: the small helper package every notebook, lab and test imports.

One concern per module (see ../shared/STYLE.md):

- ``paths``   where the repository, datasets, build outputs and caches live
- ``runtime`` device choice, seeding, offline mode and the versions banner
- ``models``  the embedded models: locate, verify, convert once, load
- ``results`` record a notebook's headline figures and plots for the course report
- ``course``  execute every notebook with papermill and write the report
- ``labs``    generate exercise notebooks from solutions
- ``checks``  self-checks that labs call after each exercise

Importing the package switches Hugging Face libraries to offline mode: nothing in the
course may download at run time.
"""

from utils.runtime import set_offline

set_offline()
