"""The Kantor Pos exchange over the G2P Connect Disburse API: push, listen, pull (issue 9).

Modules: :mod:`models` (envelope, schemas, canonical JSON), :mod:`signing` (Ed25519 profile),
:mod:`config` (payer, token files), :mod:`mapping` (ids and statuses), :mod:`journal` (what
was sent and answered), :mod:`bridge` (roster and ledger), :mod:`push`, :mod:`feedback`,
:mod:`receiver` (``pos listen``) and :mod:`pull`.
"""
