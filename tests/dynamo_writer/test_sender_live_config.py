"""The sender under a configuration that changes while it works (an in-memory DynamoDB)."""

from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender
from dynamo_writer.spool import Spool
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, InMemoryDynamoDB, config, detections


def test_a_row_spooled_after_a_table_change_goes_to_the_new_table(tmp_path):
    """The change lands between the start of a step and the moment it claims the row (found by the
    configuration fuzz in tests/dynamo_writer/test_property.py)."""
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.put(items_for(detections("after-the-change"), DEVICE, 30), max_items=100, max_bytes=10**7,
              policy="refuseNewest")
    readings = iter([])

    def settings():
        return next(readings, config(tableName="new-table"))

    dynamodb = InMemoryDynamoDB()
    sender = Sender(spool, settings, Counters(), client_factory=lambda _cfg: dynamodb)
    readings = iter([config(tableName="old-table")])  # the step's first reading is the old configuration
    assert sender.step(force=True) == 0.0
    assert dynamodb.tables == {"after-the-change": "new-table"}
    assert spool.depth()[0] == 0
    spool.close()
