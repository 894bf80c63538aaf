"""SEAL as ONNX graphs (core, no rclpy): ``graphs`` (the exported stages), ``export`` (``seal-ros
export onnx``, the manifest and its check), ``runtime`` (:class:`OnnxSealPredictor`, the predictor
on ONNX Runtime), ``cache`` (which model, and the node's export cache). onnx, onnxscript and
onnxruntime are pip-only and imported where used (seal_ros/deps.py).
"""
