"""The revisioned-store core: everything the SQL backends do alike, written once.

A backend (:mod:`demine.store.gpkg`, :mod:`demine.store.postgis`) subclasses
:class:`RevisionedStore` and supplies only what its dialect does differently (the hooks of
:class:`~demine.store.core.dialect.Dialect`, each saying what it must do):

* the connection (``conn``) and one write transaction (``_transaction``): SQLite's
  ``BEGIN IMMEDIATE`` with a busy wait, PostgreSQL's advisory lock with retries;
* the schema (``init``, ``_create_kind_table``) and how a kind's data version moves (``_touch``);
* placeholders (``P``, ``_placeholders``, ``_in``), geometry encoding (``_encode``, ``_decode``,
  ``GEOM_OUT``), value conversion (``_props``, ``_field_fix``, ``_time_text``,
  ``_from_json``), ordering tie-breaks, and the driver's constraint errors;
* spatial reads that use the backend's own index (``_bbox_where``, ``envelopes``).

The core is split by concern, one module each:

* :mod:`.dialect` - the hooks above, the column lists, ``q`` (a quoted identifier);
* :mod:`.tables` - kinds, reference layers and settings; rows as records and back; the history
  row that every write adds;
* :mod:`.records` - reads (``get``, ``list`` with ``where=``/``bbox``, ``count``, ``locate``,
  ...) and writes (``upsert``, ``update``, ``delete``) of the current records;
* :mod:`.history` - ``history``, ``revisions``, ``restore``, ``load_revisions``;
* :mod:`.users` - users and API tokens;
* :mod:`.intake` - organisations, submissions and their events;
* :mod:`.attachments` - photos and documents owned by records or submissions;
* :mod:`.merges` - redirects of merged records, links, and one transaction for many writes;
* :mod:`.derived` - figures derived from the records (each hazard's land-release account),
  kept up to date by every write (the hooks ``_derived_before``/``_derived_after``);
* :mod:`.light` - light reads for whole-store rankings (some text fields without geometries,
  geometries without properties, the derived remaining polygons without their pieces).
* :mod:`.derived_stats` - what the statistics read of them, as plain rows, and the zonal table.
* :mod:`.prepared` - a first import written from rows made ahead in other processes.

Every record keeps its whole history in ``demine_history`` (one row a revision: the state after
the change, who, when, why); a delete is a revision with no state; restore copies an old state
into a new revision. The write rules that hold whatever the backend (see
:mod:`demine.model.write_rules`) are checked here, once.
"""

from __future__ import annotations

from demine.store.core.attachments import Attachments
from demine.store.core.derived import Derived
from demine.store.core.derived_stats import DerivedStats
from demine.store.core.dialect import HISTORY_COLS, META_COLS, TAIL_COLS, Dialect, q, to_json
from demine.store.core.history import History
from demine.store.core.intake import AUTHORITY, OrganisationsAndSubmissions
from demine.store.core.light import LightReads
from demine.store.core.merges import Merges
from demine.store.core.prepared import Prepared
from demine.store.core.records import Records
from demine.store.core.sync import Sync
from demine.store.core.tables import Tables, fields_from_json, fields_json
from demine.store.core.users import UsersAndTokens


class RevisionedStore(
    Records,
    History,
    UsersAndTokens,
    OrganisationsAndSubmissions,
    Attachments,
    Merges,
    Sync,
    LightReads,
    Prepared,
    Derived,
    DerivedStats,
):
    """The shared body of a SQL store with per-record history: its records, their history,
    its users and tokens, organisations and submissions, attachments, merges and links. Not a
    store by itself:
    a backend fills in the dialect hooks."""


__all__ = [
    "AUTHORITY",
    "Attachments",
    "HISTORY_COLS",
    "META_COLS",
    "TAIL_COLS",
    "Derived",
    "Dialect",
    "History",
    "Merges",
    "OrganisationsAndSubmissions",
    "Records",
    "RevisionedStore",
    "Sync",
    "Tables",
    "UsersAndTokens",
    "fields_from_json",
    "fields_json",
    "q",
    "to_json",
]
