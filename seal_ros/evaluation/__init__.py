"""SEAL-protocol and COCO-style evaluation of prompted event segmentation."""
