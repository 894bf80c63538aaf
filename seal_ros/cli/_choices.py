"""Choice lists of ``seal-ros`` arguments whose source lives in a module too heavy to import while
the parser is built (torch, numba). Each is a copy; test/test_cli_lazy.py checks it equals its source."""

# seal_ros.e2v.reconstructor.ALL_METHODS (imports torch)
E2V_METHODS = ("hpf", "cf", "firenet", "firenet_plus", "e2vid", "e2vid_plus", "ssl_e2vid", "semantic_e2vid")
# seal_ros.events.encoders.SUPPORTED_ENCODINGS (imports numba)
ENCODINGS = ("evt2", "evt3", "libcaer", "libcaer_cmp", "mono", "trigger")
# seal_ros.segment.event_images.REPRESENTATIONS (imports numpy)
REPRESENTATIONS = ("voxel", "histogram", "time_surface")
