"""Dataset readers: training pairs (AEDAT4, recorder layout), the SEAL authors' released
benchmark and training layout (``seal_layout``), and seal_ros's raw-event evaluation
readers (DSEC-Semantic, DDD17-Seg)."""
