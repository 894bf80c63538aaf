"""What every recording-taking ``seal-ros`` command shares: its input options and opening the input."""
from __future__ import annotations

from seal_ros.cli import CliError


def add_input_options(p, topic_flags=("--topic",)) -> None:
    """Options every recording-taking command shares (see seal_ros.io.recordings.Options)."""
    p.add_argument(*topic_flags, dest="topic", default=None,
                   help="events topic of a bag (default: its first event topic)")
    p.add_argument("--image-topic", default=None, help="frames topic of a bag (default: its first Image topic)")
    p.add_argument("--width", type=int, default=None, help="sensor width, where the recording does not say it")
    p.add_argument("--height", type=int, default=None, help="sensor height, where the recording does not say it")
    p.add_argument("--time-unit", default="auto", choices=("auto", "s", "us", "ns"),
                   help="times of a text file (default: seconds if they have a decimal point, else us)")
    p.add_argument("--chunk-events", type=int, default=None,
                   help="most events read at a time (default 262144; RAW files: words a block)")


def open_input(path, args, **options):
    """The recording at ``path`` with the shared options of ``args`` (``options`` override them);
    a one-line :class:`CliError` when it cannot be read."""
    from seal_ros.io.recordings import RecordingError, open_recording

    opts = dict(topic=args.topic, image_topic=getattr(args, "image_topic", None), width=args.width,
                height=args.height, time_unit=args.time_unit, chunk_events=getattr(args, "chunk_events", None))
    opts.update(options)
    try:
        return open_recording(path, **opts)
    except RecordingError as exc:
        raise CliError(str(exc)) from None
