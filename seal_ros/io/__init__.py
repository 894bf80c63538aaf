"""Recordings in and out: the recording registry (``recordings``, one module per format in ``formats``),
bags (``bags``, rosbags), AEDAT4 (``aedat``), recordings as EventPackets (``packetize``), rosbag2 writing
(``bag_writer``), images and media."""
