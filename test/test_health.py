"""The diagnostics convention without ROS: level and message from counters, throttled error logs
per kind, silent topics."""
from seal_ros.nodes.health import ERROR, OK, WARN, ErrorCounter, HealthJudge, TopicWatch, status_values


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class Log:
    def __init__(self):
        self.lines = []

    def error(self, text):
        self.lines.append(text)


def test_level_rises_only_when_a_problem_counter_rose_since_the_last_status():
    judge = HealthJudge(("bad_packets", "lost_packets"))
    assert judge.judge(dict(packets_in=10, bad_packets=0, lost_packets=0)) == (OK, "ok")
    level, msg = judge.judge(dict(packets_in=20, bad_packets=3, lost_packets=0))
    assert level == WARN and msg == "bad packets +3 (3 in total)"
    # nothing new: back to OK although the totals are not zero
    assert judge.judge(dict(packets_in=30, bad_packets=3, lost_packets=0)) == (OK, "ok")
    level, msg = judge.judge(dict(packets_in=40, bad_packets=12, lost_packets=1))
    assert level == WARN and msg == "bad packets +9 (12 in total); lost packets +1 (1 in total)"
    # a counter that is not a problem (packets_in) never warns
    assert judge.judge(dict(packets_in=1000, bad_packets=12, lost_packets=1)) == (OK, "ok")


def test_counted_errors_are_problems_and_a_fault_is_an_error():
    judge = HealthJudge(())
    level, msg = judge.judge({"err_bad_prompt": 2, "fault": ""})
    assert level == WARN and msg == "bad prompt errors +2 (2 in total)"
    level, msg = judge.judge({"err_bad_prompt": 2, "fault": "model weights missing"})
    assert level == ERROR and msg == "model weights missing"
    level, msg = judge.judge({"err_bad_prompt": 3, "fault": "model weights missing"},
                             silent=[("/cam/events", 6.21)])
    assert level == ERROR
    assert msg == "model weights missing; bad prompt errors +1 (3 in total); no message on /cam/events for 6.2 s"


def test_every_value_is_a_key():
    values = dict(packets=3, latency_ms=1.5, method="hpf", fault="")
    assert status_values(values) == [("packets", "3"), ("latency_ms", "1.5"), ("method", "hpf"), ("fault", "")]


def test_error_logs_are_throttled_per_kind_and_say_what_was_not_logged():
    clock, log = Clock(), Log()
    errors = ErrorCounter(log, throttle_s=5.0, clock=clock)
    assert errors.report("bad_prompt", "prompt refused: x")
    for _ in range(10):
        assert not errors.report("bad_prompt", "prompt refused: x")
    # another kind is logged at once: one flood never hides another kind
    assert errors.report("bad_click", "click outside the image")
    assert log.lines == ["prompt refused: x [bad_prompt: 1 so far]", "click outside the image [bad_click: 1 so far]"]
    clock.t += 5.0
    assert errors.report("bad_prompt", "prompt refused: y")
    assert log.lines[-1] == "prompt refused: y [bad_prompt: 12 so far, 10 more since the last line]"
    assert errors.counts == {"bad_prompt": 12, "bad_click": 1}
    assert errors.values() == {"err_bad_click": 1, "err_bad_prompt": 12}


def test_silent_topics_from_start_up_and_after_the_last_message():
    clock = Clock()
    watch = TopicWatch(2.0, clock=clock)
    got = []
    cb = watch.wrap("events", "/cam/events", got.append)
    watch.watch("images", "/cam/image")
    clock.t += 1.0
    assert watch.silent() == []
    cb("m1")
    clock.t += 1.5  # events 1.5 s ago, images never (2.5 s since start)
    assert watch.silent() == [("/cam/image", 2.5)]
    clock.t += 1.0
    assert watch.silent() == [("/cam/events", 2.5), ("/cam/image", 3.5)]
    assert got == ["m1"] and watch.messages["events"] == 1
    assert TopicWatch(0.0, clock=clock).silent() == []  # 0 disables
