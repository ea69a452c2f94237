"""The head publisher publishes when the log grows, and only then."""

from __future__ import annotations

import threading

from hub.background import publish_heads_forever
from hub.exchange import translog
from tests.support.envelopes import traffy_complaint


class _Rounds(threading.Event):
    """Lets the loop run a fixed number of rounds without sleeping."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds = rounds

    def wait(self, timeout: float | None = None) -> bool:
        self.rounds -= 1
        return self.rounds < 0


def test_heads_follow_the_log(hub, agencies):
    publish_heads_forever(hub, _Rounds(1), interval=0)
    bma = agencies.enrol("bma")
    for i in range(3):
        bma.client.send("complaint.submit", traffy_complaint(i))
    publish_heads_forever(hub, _Rounds(3), interval=0)  # three rounds, one growth
    with hub.transaction() as s:
        assert [h.tree_size for h in translog.heads_after(s, after=-1, limit=10)] == [0, 3]
