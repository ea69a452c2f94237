"""Adapters: one package per external system, behind one contract (:mod:`adapters.base`).

Each package gives a pure mapping with its tables as data, a wire client, a simulator and
fixtures; :mod:`adapters.conformance` checks that an adapter keeps the contract. Traffy
Fondue (``adapters.traffy_fondue``) is the first full adapter.
"""
