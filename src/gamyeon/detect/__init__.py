"""Detection: one upright RGB image in, ``Detection`` values out, one module per detector (faces,
persons, plates and text, silhouettes) behind the contract in ``base``; ``onnx`` runs their networks."""
