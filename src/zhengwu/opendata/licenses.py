"""The licences a dataset may carry (CKAN ``license_list``), with their Chinese titles.

The ids are CKAN's and the Open Definition's, so harvesters and DCAT consumers recognise them; the
Chinese government licence is the portal's own default for data without a licence of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class License:
    """One licence as CKAN describes it."""

    id: str
    title: str
    title_zh: str
    url: str
    od_conformance: str = "approved"
    osd_conformance: str = "not reviewed"
    domain_data: bool = True
    domain_content: bool = True
    domain_software: bool = False

    @property
    def is_open(self) -> bool:
        return self.od_conformance == "approved"

    def ckan_dict(self) -> dict[str, object]:
        """The licence as ``license_list`` answers it."""
        return {
            "id": self.id,
            "title": self.title,
            "title_zh": self.title_zh,
            "url": self.url,
            "status": "active",
            "maintainer": "",
            "family": "",
            "is_generic": False,
            "is_okd_compliant": self.is_open,
            "is_osi_compliant": False,
            "od_conformance": self.od_conformance,
            "osd_conformance": self.osd_conformance,
            "domain_data": self.domain_data,
            "domain_content": self.domain_content,
            "domain_software": self.domain_software,
        }


DEFAULT_LICENSE_ID = "cn-gov-open"

LICENSES: tuple[License, ...] = (
    License(
        DEFAULT_LICENSE_ID,
        "Public Data Open License (China)",
        "公共数据开放许可协议",
        "https://w3id.org/zhengwu/licenses/cn-gov-open",
    ),
    License("cc-by-4.0", "Creative Commons Attribution 4.0", "知识共享署名 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    License("cc-zero", "Creative Commons CCZero", "知识共享 CC0 公有领域贡献", "http://www.opendefinition.org/licenses/cc-zero"),
    License("odc-by", "Open Data Commons Attribution License", "开放数据共享署名许可", "http://www.opendefinition.org/licenses/odc-by"),
    License("odc-odbl", "Open Data Commons Open Database License (ODbL)", "开放数据库许可 (ODbL)", "http://www.opendefinition.org/licenses/odc-odbl"),
    License(
        "odc-pddl",
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        "开放数据公有领域许可",
        "http://www.opendefinition.org/licenses/odc-pddl",
    ),
    License("other-closed", "Other (Not Open)", "其他（非开放）", "", od_conformance="not reviewed"),
)  # fmt: skip

LICENSES_BY_ID = {lic.id: lic for lic in LICENSES}
