"""Adapters as long-running services: ``hub adapters run NAME``.

One process per adapter instance (one native deployment, one hub agency key) keeps the two
systems in step:

- **native → hub**: a poll loop asks the native API what changed since its watermark,
  maps each new record to a ``complaint.submit`` and each later change (accepted, finished,
  reopened, forwarded) to the ``case.*`` message it means, and sends them signed through
  :class:`~hub.exchange.client.HubClient`; Traffy's webhooks only make it look sooner;
- **hub → native**: forwards from the hub (pushed to the SDK's receiver blueprint, or pulled
  from the inbox) become native updates through the adapter's ``from_hub``, never for a
  message that came from this system (:func:`adapters.base.came_from`).

Everything the service knows lives in one SQLite state file per instance
(:mod:`.state`): the poll cursor, a fingerprint and status per native record, the local
outbox of signed messages, and a journal of the hub messages handled. Writing the cursor,
the record and the outbox rows in one transaction is what makes a restart — even after
SIGKILL — resume without missing or re-sending anything.

Parts: :mod:`.state` (the file), :mod:`.changes` (pure: native change → hub messages),
:mod:`.source` (what an adapter gives the service), :mod:`.runner` (the loops),
:mod:`.web` (receiver, webhooks, health), :mod:`.cli` (the command). Each adapter package
has a ``service.py`` that builds its :class:`~.source.Source`.
"""
