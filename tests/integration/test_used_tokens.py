"""Spent token ids are kept until they expire, then pruned (off the hot path, sometimes)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from hub.exchange import tokens
from hub.models import UsedToken


def test_expired_token_ids_are_pruned_when_the_dice_say_so(hub, agencies, clock, monkeypatch):
    bma = agencies.enrol("bma")
    for _ in range(3):
        with hub.transaction() as s:
            tokens.verify_token(
                s, bma.client.token(), audience="hub", now=clock(), max_lifetime=300
            )
    with hub.transaction() as s:
        assert s.scalar(select(func.count()).select_from(UsedToken)) == 3
    clock.advance(hours=1)
    monkeypatch.setattr(tokens, "PRUNE_PROBABILITY", 1.0)
    with hub.transaction() as s:
        tokens.verify_token(s, bma.client.token(), audience="hub", now=clock(), max_lifetime=300)
    with hub.transaction() as s:
        left = s.scalars(select(UsedToken)).all()
        assert len(left) == 1 and left[0].expires_at > clock() - timedelta(minutes=5)
