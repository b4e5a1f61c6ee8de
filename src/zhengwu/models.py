"""Every table of every domain, imported once so that ``metadata`` is complete.

Used by Alembic (autogenerate and the migration test) and by tooling; application code imports the
domain's own ``models`` module instead.
"""

from zhengwu.accounts import models as accounts_models
from zhengwu.audit import models as audit_models
from zhengwu.catalog import models as catalog_models
from zhengwu.catalog.search import models as catalog_search_models
from zhengwu.db import Base
from zhengwu.exchange import models as exchange_models
from zhengwu.exchange.gateway import models as exchange_gateway_models
from zhengwu.exchange.monitoring import models as exchange_monitoring_models
from zhengwu.opendata import models as opendata_models
from zhengwu.opendata.access import models as opendata_access_models
from zhengwu.opendata.datastore import models as datastore_models
from zhengwu.opendata.harvest import models as opendata_harvest_models
from zhengwu.opendata.requests import models as opendata_requests_models
from zhengwu.opendata.showcase import models as opendata_showcase_models
from zhengwu.opendata.stats import models as opendata_stats_models
from zhengwu.registries import models as registries_models
from zhengwu.registries.credit import models as credit_models
from zhengwu.registries.geospatial import models as geospatial_models
from zhengwu.sharing import models as sharing_models

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "audit_models",
    "catalog_models",
    "catalog_search_models",
    "credit_models",
    "datastore_models",
    "exchange_gateway_models",
    "exchange_models",
    "exchange_monitoring_models",
    "geospatial_models",
    "metadata",
    "opendata_access_models",
    "opendata_harvest_models",
    "opendata_models",
    "opendata_requests_models",
    "opendata_showcase_models",
    "opendata_stats_models",
    "registries_models",
    "sharing_models",
]
