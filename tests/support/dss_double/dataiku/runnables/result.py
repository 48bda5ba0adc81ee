"""``ResultTable``: the RESULT_TABLE result of a macro."""

from __future__ import annotations

import json
from typing import Any


class ResultTable:
    """A table of records with typed columns, serialised to JSON for DSS."""

    def __init__(self):
        self.records: list[list] = []
        self.columns: list[dict] = []
        self.header = ""
        self.name = ""

    def add_column(self, name: str, display_name: str, type: str = "STRING") -> None:
        self.columns.append({"name": name, "displayName": display_name, "type": type})

    def add_record(self, record: list[Any]) -> None:
        self.records.append(record)

    def set_header(self, header: str) -> None:
        self.header = header

    def set_name(self, name: str) -> None:
        self.name = name

    def to_json(self) -> str:
        return json.dumps({"header": self.header, "columns": self.columns, "records": self.records,
                           "name": self.name})
