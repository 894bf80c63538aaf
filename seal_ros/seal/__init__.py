"""SEAL: open-vocabulary instance/part segmentation of event images (core, no rclpy).

Layout (segment-anything style): ``modeling/`` one concept a file, ``build``
(registry of builders incl. tiny test configs), ``checkpoint`` (strict loading
of the published files), ``text`` (CLIP text embeddings), ``preprocess``,
``predictor`` (:class:`~seal_ros.seal.predictor.SealPredictor`).
"""
