"""python -m pipeline.train.synthetic: train the shipped synthetic-text model (`make models`)."""

import sys

from pipeline.train.synthetic import main

sys.exit(main())
