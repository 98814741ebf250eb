"""Between detection and masking: when each detector runs (``schedule``), which detections are one
object over time (``tracker``), and the box of every tracked object on every frame with a bounded
look-ahead (``temporal``)."""
