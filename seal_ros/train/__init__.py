"""Annotation-free training: MHSG guidance, EventSAM / SEAL / Semantic-E2VID stages, one trainer."""
