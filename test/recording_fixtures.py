"""Writers for the recording formats the tests build from real events (the formats are simple).

Bags are written with the ``rosbags`` library's own serializers (not ours), so
reading them back checks our readers against an independent implementation.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np
from conftest import DATA, LIBCAER_CMP_BAG

from seal_ros.events.types import EventArray

RAW_EVT3 = DATA / "prophesee_raw" / "evt3_sample.raw"
RAW_EVT2 = DATA / "prophesee_raw" / "evt2_sample.raw"
RAW_EVT3_NPY = DATA / "prophesee_raw" / "evt3_sample.npy"


def read_all(path, **options) -> tuple:
    """(EventArray, TriggerArray, Recording) of every chunk of a recording."""
    from seal_ros.events.types import TriggerArray
    from seal_ros.io.recordings import open_recording

    rec = open_recording(path, **options)
    chunks = list(rec.chunks())
    return (EventArray.concatenate([c.events for c in chunks]),
            TriggerArray.concatenate([c.triggers for c in chunks]), rec)


def same_events(a: EventArray, b: EventArray) -> bool:
    return (len(a) == len(b) and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
            and np.array_equal(a.p, b.p) and np.array_equal(a.t, b.t))


def write_dsec(path: Path, ev: EventArray, attrs: dict | None = None) -> Path:
    """``events.h5`` in DSEC's layout: t in us relative to ``t_offset``, ``ms_to_idx``."""
    t_us = ev.t // 1000
    off = int(t_us[0])
    rel = t_us - off
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        g = f.create_group("events")
        g["x"], g["y"] = ev.x, ev.y
        g["t"], g["p"] = rel.astype(np.uint32), ev.p
        f["ms_to_idx"] = np.searchsorted(rel, np.arange(0, int(rel[-1]) // 1000 + 1) * 1000).astype(np.uint64)
        f["t_offset"] = np.int64(off)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return path


def text_lines(ev: EventArray, seconds: bool, size: tuple | None = None, sep: str = " ") -> str:
    t_us = ev.t // 1000
    tcol = [f"{t // 1_000_000}.{t % 1_000_000:06d}" for t in t_us.tolist()] if seconds else t_us.tolist()
    head = f"{size[0]} {size[1]}\n" if size else ""
    return head + "".join(f"{t}{sep}{x}{sep}{y}{sep}{p}\n" for t, x, y, p in
                          zip(tcol, ev.x.tolist(), ev.y.tolist(), ev.p.tolist()))


def write_zip(path: Path, name: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, text)
    return path


def bag_events(bag=LIBCAER_CMP_BAG, packets: int = 20):
    """(EventPacket list, EventArray) of the first ``packets`` packets of a shared bag."""
    from itertools import islice

    from seal_ros.events.stream import EventStream
    from seal_ros.io.bags import BagReader

    with BagReader(bag) as r:
        pk = list(islice(r.event_packets(), packets))
    s = EventStream()
    return pk, EventArray.concatenate([s.push(p).events for p in pk])


def _stamp(T, t_ns: int):
    return T(sec=int(t_ns) // 1_000_000_000, nanosec=int(t_ns) % 1_000_000_000)


def write_event_list_bag(path: Path, msgtype: str, ev: EventArray, width: int, height: int, ros: int,
                         per_msg: int = 2000, topic: str = "/dvs/events") -> None:
    """A ROS 1 (``ros=1``) or rosbag2 bag of ``dvs_msgs``/``prophesee_event_msgs`` EventArrays."""
    from seal_ros.io.bags import _typestore

    store = _typestore(ros)
    T = store.types
    pkg = msgtype.split("/")[0]
    Event, Msg = T[f"{pkg}/msg/Event"], T[msgtype]
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    with _writer(path, ros) as w:
        conn = w.add_connection(topic, msgtype, typestore=store)
        for i in range(0, len(ev), per_msg):
            sl = ev[i:i + per_msg]
            items = [Event(x=int(x), y=int(y), ts=_stamp(Time, t), polarity=bool(p))
                     for x, y, t, p in zip(sl.x.tolist(), sl.y.tolist(), sl.t.tolist(), sl.p.tolist())]
            hdr = dict(stamp=_stamp(Time, int(sl.t[-1])), frame_id="dvs")
            if ros == 1:
                hdr["seq"] = i // per_msg
            msg = Msg(header=Header(**hdr), height=height, width=width, events=items)
            raw = store.serialize_ros1(msg, msgtype) if ros == 1 else store.serialize_cdr(msg, msgtype)
            w.write(conn, int(sl.t[-1]), raw)


def write_packet_bag(path: Path, msgtype: str, packets, ros: int, topic: str = "/event_camera/events",
                     extra_topics: dict | None = None) -> None:
    """A bag of EventPacket-shaped messages (``event_camera_msgs/EventPacket`` or the legacy
    ``event_array_msgs/EventArray``) from EventPackets (None: no events topic at all); ``extra_topics``:
    topic -> msgtype, one message each."""
    from seal_ros.io.bags import _typestore

    store = _typestore(ros)
    T = store.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    with _writer(path, ros) as w:
        conn = w.add_connection(topic, msgtype, typestore=store) if packets is not None else None
        for p in packets or ():
            hdr = dict(stamp=_stamp(Time, p.stamp_ns), frame_id=p.frame_id)
            if ros == 1:
                hdr["seq"] = int(p.seq)
            msg = T[msgtype](header=Header(**hdr), height=p.height, width=p.width, seq=p.seq, time_base=p.time_base,
                             encoding=p.encoding, is_bigendian=False, events=np.asarray(p.events, np.uint8))
            raw = store.serialize_ros1(msg, msgtype) if ros == 1 else store.serialize_cdr(msg, msgtype)
            w.write(conn, p.stamp_ns, raw)
        for t, mtype in (extra_topics or {}).items():
            c = w.add_connection(t, mtype, typestore=store)
            msg = T[mtype](data="x")
            w.write(c, 1, store.serialize_ros1(msg, mtype) if ros == 1 else store.serialize_cdr(msg, mtype))


def _writer(path: Path, ros: int):
    if ros == 1:
        from rosbags.rosbag1 import Writer

        return Writer(path)
    from rosbags.rosbag2 import Writer

    return Writer(path, version=8)


def raw_with_header(path: Path, header: str, body: bytes = b"") -> Path:
    path.write_bytes(header.encode() + body)
    return path


def raw_body(raw: Path) -> bytes:
    from seal_ros.io.formats.raw import read_header

    with open(raw, "rb") as f:
        _, off = read_header(f)
    return raw.read_bytes()[off:]

