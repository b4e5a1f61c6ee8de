"""Synthetic persons and legal entities for the demo province, fast and reproducible.

* :func:`generate_persons` — natural persons with valid, unique resident ID numbers whose region and
  birth date agree with the other columns (:data:`PERSON_SCHEMA`)
* :func:`generate_entities` — enterprises, individual businesses, cooperatives, social organisations
  and institutions with valid, unique USCCs; legal representatives are persons of the same seed
  (:data:`ENTITY_SCHEMA`)
* :func:`write_batches` — stream either to CSV or Parquet with a progress bar

Both generators are vectorised (numpy and Arrow, about a million rows in a few seconds on two cores),
yield :class:`pyarrow.RecordBatch` chunks so memory stays constant, and are deterministic: the same
arguments give the same rows whatever the chunk size, and a reference date ``as_of`` replaces "today".
"""

from zhengwu.synthetic.entities import ENTITY_SCHEMA, generate_entities
from zhengwu.synthetic.persons import DEFAULT_AS_OF, PERSON_SCHEMA, generate_persons, person_pool
from zhengwu.synthetic.writers import infer_format, write_batches

__all__ = [
    "DEFAULT_AS_OF",
    "ENTITY_SCHEMA",
    "PERSON_SCHEMA",
    "generate_entities",
    "generate_persons",
    "infer_format",
    "person_pool",
    "write_batches",
]
