"""A real HTTP fake of the Backstory (People.ai) Enriched Contacts bulk export API.

Start it in-process with ``FakeBackstory(FakeConfig(...)).start()`` or from the command line
with ``python -m fake_backstory``.
"""

from fake_backstory.config import FakeConfig, RequestLog
from fake_backstory.data import API_FIELDS, EXTRA_FIELDS
from fake_backstory.fault_queue import FaultQueue
from fake_backstory.faults import KINDS, Fault, FaultKind, Phase
from fake_backstory.jobs import FakeJob
from fake_backstory.recorder import ReceivedRequest, RecordingServer
from fake_backstory.server import FakeBackstory

__all__ = [
    "API_FIELDS",
    "EXTRA_FIELDS",
    "KINDS",
    "FakeBackstory",
    "FakeConfig",
    "FakeJob",
    "Fault",
    "FaultKind",
    "FaultQueue",
    "Phase",
    "ReceivedRequest",
    "RecordingServer",
    "RequestLog",
]
