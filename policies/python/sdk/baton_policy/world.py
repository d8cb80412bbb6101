"""The policy's read-only view of the world.

Decision logic takes a `World`; inside a component `HOST_WORLD` forwards
each call to the host (which records it for the audit record), and unit
tests pass a `testing.FakeWorld`. Failed calls raise `CapabilityError`.
"""

from typing import List, Optional, Protocol

from . import _wit
from .errors import CapabilityError

_LEVELS = {
    "trace": _wit.log.Level.TRACE,
    "debug": _wit.log.Level.DEBUG,
    "info": _wit.log.Level.INFO,
    "warn": _wit.log.Level.WARN,
    "error": _wit.log.Level.ERROR,
}


class World(Protocol):
    """Everything a policy may read."""

    def read_file(self, path: str, revision: Optional[str] = None) -> bytes:
        """Bytes of `path` at `revision` (`None`: the branch tip)."""

    def stage_version(self, stage: str, revision: Optional[str] = None) -> str:
        """Version a stage holds at `revision` (`None`: the branch tip)."""

    def stage_history(self, stage: str, limit: int) -> List:
        """Deployments of a stage, newest first, at most `limit`."""

    def target_versions(self, stage: str, revision: Optional[str] = None) -> List:
        """Version (and digest) of each target of a stage at `revision`."""

    def application_status(self, app: str):
        """Current Argo CD status of an application."""

    def find_open_merge_request(self, source_branch: str):
        """The open merge request from `source_branch`, or `None`."""

    def merge_request(self, number: int):
        """A merge request by number."""

    def now(self) -> int:
        """Host time, milliseconds since the Unix epoch."""

    def log(self, level: str, message: str) -> None:
        """Writes a diagnostic (`trace`, `debug`, `info`, `warn`, `error`)."""


def _call(function, *args):
    try:
        return function(*args)
    except _wit.Err as e:
        raise CapabilityError.from_wit(e.value) from None


class HostWorld:
    """The world as the host provides it (only meaningful inside a component)."""

    def read_file(self, path: str, revision: Optional[str] = None) -> bytes:
        return _call(_wit.git.read_file, path, revision)

    def stage_version(self, stage: str, revision: Optional[str] = None) -> str:
        return _call(_wit.git.stage_version, stage, revision)

    def stage_history(self, stage: str, limit: int) -> List:
        return _call(_wit.git.stage_history, stage, limit)

    def target_versions(self, stage: str, revision: Optional[str] = None) -> List:
        return _call(_wit.git.target_versions, stage, revision)

    def application_status(self, app: str):
        return _call(_wit.argocd.application_status, app)

    def find_open_merge_request(self, source_branch: str):
        return _call(_wit.forge.find_open, source_branch)

    def merge_request(self, number: int):
        return _call(_wit.forge.get, number)

    def now(self) -> int:
        return _wit.clock.now()

    def log(self, level: str, message: str) -> None:
        _wit.log.log(_LEVELS[level], message)


#: The host world of a component.
HOST_WORLD = HostWorld()
