"""Developer tools that turn mediapipe's TFLite face models into the shipped ONNX files.

Not imported at run time; needs the ``convert`` extra (``tflite``, ``onnx``).
See ``scripts/convert_face_models.py``.
"""
