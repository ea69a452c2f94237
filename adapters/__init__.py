"""Adapters: one package per external system, each with a pure ``mapping`` module.

So far only the Traffy Fondue CSV mapping exists (``adapters.traffy_fondue.mapping``); the
adapter contract, clients, simulators and conformance kit are issue 6.
"""
