import random

from thoth_monitoring.core.retry import Backoff


def test_backoff_doubles_up_to_its_maximum_and_jitters_below_it() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.2, rng=random.Random(7))
    delays = [backoff.delay(failures) for failures in range(1, 7)]
    bases = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0.8 * base <= delay <= base for delay, base in zip(delays, bases, strict=True))
    assert len(set(delays)) == len(delays)  # jittered: no two waits alike
