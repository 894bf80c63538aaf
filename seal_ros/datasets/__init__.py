"""Dataset readers: training pairs (AEDAT4, recorder layout) and evaluation sets
(DSEC-Semantic, DDD17-Seg)."""
