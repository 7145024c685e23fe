"""SSM adapters: the cutover's state in one parameter (its version history is the run's history) and the lock."""

from __future__ import annotations

import json
from typing import Any

from scripts.cutover.awserrors import AWS_ERRORS, domain_error, error_code
from scripts.cutover.codec import PlanError, state_from_dict, state_to_dict
from scripts.cutover.model import State
from scripts.cutover.ports import Clock, LockHeldError, StateStoreError

# SSM parameter values: 4 KB in the standard tier, 8 KB in the advanced tier.
STANDARD_PARAMETER_BYTES = 4096
KEPT_ANALYSES = 6  # older analyses stay in the audit log, not in the parameter


class SsmStateStore:
    """The state in one SSM parameter (its history is the parameter's version history). Written by the cutover
    only, never by CloudFormation, so a deploy cannot reset it."""

    def __init__(self, ssm: Any, *, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def load(self) -> State | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except AWS_ERRORS as ex:
            if error_code(ex) == "ParameterNotFound":
                return None
            raise domain_error(ex, "get_parameter", StateStoreError) from ex
        return self._decode(value)

    def _decode(self, value: str) -> State:
        try:
            return state_from_dict(json.loads(value))
        except (ValueError, PlanError) as ex:
            raise StateStoreError(f"{self.name}: {ex}") from ex

    def save(self, state: State) -> None:
        data = state_to_dict(state)
        data["analyses"] = data["analyses"][-KEPT_ANALYSES:]
        value = json.dumps(data, separators=(",", ":"), sort_keys=True)
        tier = "Standard" if len(value.encode()) <= STANDARD_PARAMETER_BYTES else "Advanced"
        try:
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True, Tier=tier)
        except AWS_ERRORS as ex:
            raise domain_error(ex, "put_parameter", StateStoreError) from ex

    def history(self) -> list[State]:
        states, token = [], None
        try:
            while True:
                kwargs: dict[str, Any] = {"Name": self.name}
                if token:
                    kwargs["NextToken"] = token
                page = self.ssm.get_parameter_history(**kwargs)
                states += [self._decode(p["Value"]) for p in page["Parameters"]]
                token = page.get("NextToken")
                if not token:
                    return states
        except AWS_ERRORS as ex:
            if error_code(ex) == "ParameterNotFound":
                return []
            raise domain_error(ex, "get_parameter_history", StateStoreError) from ex


class SsmLock:
    """A parameter created with `Overwrite=False`: the create is atomic, so only one run gets it. A lock older than
    `ttl_s` (a run that died without releasing) may be taken over."""

    def __init__(self, ssm: Any, *, name: str, clock: Clock, ttl_s: float = 3600.0) -> None:
        self.ssm = ssm
        self.name = name
        self.clock = clock
        self.ttl_s = ttl_s
        self.held = False

    def acquire(self, owner: str) -> None:
        value = json.dumps({"owner": owner, "expires_s": self.clock.now() + self.ttl_s})
        try:
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=False)
        except AWS_ERRORS as ex:
            if error_code(ex) != "ParameterAlreadyExists":
                raise domain_error(ex, "put_parameter (lock)", StateStoreError) from ex
            holder = json.loads(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])
            if float(holder.get("expires_s", 0)) > self.clock.now():
                raise LockHeldError(f"{self.name} held by {holder.get('owner')}") from ex
            self.ssm.put_parameter(Name=self.name, Value=value, Type="String", Overwrite=True)
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        try:
            self.ssm.delete_parameter(Name=self.name)
        except AWS_ERRORS as ex:
            raise domain_error(ex, "delete_parameter (lock)", StateStoreError) from ex
        self.held = False


class SsmAbortSignal:
    """A parameter beside the state: `cutover abort` (another terminal) writes it, the running cutover polls it."""

    def __init__(self, ssm: Any, *, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def request(self, owner: str) -> None:
        try:
            self.ssm.put_parameter(Name=self.name, Value=owner, Type="String", Overwrite=True)
        except AWS_ERRORS as ex:
            raise domain_error(ex, "put_parameter (abort)", StateStoreError) from ex

    def requested(self) -> str | None:
        try:
            return str(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])
        except AWS_ERRORS as ex:
            if error_code(ex) == "ParameterNotFound":
                return None
            raise domain_error(ex, "get_parameter (abort)", StateStoreError) from ex

    def clear(self) -> None:
        try:
            self.ssm.delete_parameter(Name=self.name)
        except AWS_ERRORS as ex:
            if error_code(ex) != "ParameterNotFound":
                raise domain_error(ex, "delete_parameter (abort)", StateStoreError) from ex
