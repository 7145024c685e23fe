"""SSM adapters: the cutover's state in one parameter (its version history is the run's history) and the lock."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from scripts.cutover.awserrors import AWS_ERRORS, domain_error, error_code
from scripts.cutover.codec import PlanError, state_from_dict, state_to_dict
from scripts.cutover.model import State
from scripts.cutover.ports import Clock, LockHeldError, LockLostError, StateStoreError, ThrottledError

# SSM parameter values: 4 KB in the standard tier, 8 KB in the advanced tier.
STANDARD_PARAMETER_BYTES = 4096
KEPT_ANALYSES = 6  # older analyses stay in the audit log, not in the parameter
# A lock expires this long after its last renewal: far above the longest stretch between two of the driver's polls
# (a smoke check or a verified write with backoff, about two minutes at worst), so a live run never loses it.
LOCK_TTL_S = 600.0


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
            # Starting again cannot fix a state this code refuses: say what does.
            raise StateStoreError(
                f"{self.name}: {ex}; check the listener's weights, then delete the parameter to start afresh"
            ) from ex

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
    """A parameter created with `Overwrite=False`: the create is atomic, so only one run gets it.

    Its value names the owner, a token unique to this acquisition and an expiry. A live run renews it (`renew`, called
    by the driver at every poll; it writes once `renew_every_s` has passed), so it never expires under a run however
    long the cutover; a run that died stops renewing, and once its lock has expired another run may take it over.

    Takeover is safe against two runs finding the same stale lock: SSM has no compare-and-swap, so the taker first
    creates a marker parameter named after the stale token (`Overwrite=False`: one creator wins), then re-reads the
    lock and overwrites it only if it still holds that token. A loser, or a taker that finds the token changed,
    gets LockHeldError. `renew` and `release` never touch a lock whose token is not theirs (LockLostError / no-op).
    """

    def __init__(
        self, ssm: Any, *, name: str, clock: Clock, ttl_s: float = LOCK_TTL_S, renew_every_s: float | None = None
    ) -> None:
        self.ssm = ssm
        self.name = name
        self.clock = clock
        self.ttl_s = ttl_s
        self.renew_every_s = ttl_s / 10 if renew_every_s is None else renew_every_s
        self.held = False
        self.owner = ""
        self.token = ""
        self.renewed_s = 0.0

    def _value(self) -> str:
        return json.dumps({"owner": self.owner, "token": self.token, "expires_s": self.clock.now() + self.ttl_s})

    def _put(self, *, overwrite: bool, what: str) -> None:
        try:
            self.ssm.put_parameter(Name=self.name, Value=self._value(), Type="String", Overwrite=overwrite)
        except AWS_ERRORS as ex:
            raise domain_error(ex, f"put_parameter (lock {what})", StateStoreError) from ex
        self.renewed_s = self.clock.now()

    def _holder(self) -> dict[str, Any] | None:
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except AWS_ERRORS as ex:
            if error_code(ex) == "ParameterNotFound":
                return None
            raise domain_error(ex, "get_parameter (lock)", StateStoreError) from ex
        try:
            holder = json.loads(value)
        except ValueError:
            return {"owner": value, "token": "", "expires_s": 0.0}  # not ours to parse: treat as expired
        return holder if isinstance(holder, dict) else {"owner": value, "token": "", "expires_s": 0.0}

    def acquire(self, owner: str) -> None:
        self.owner, self.token = owner, uuid.uuid4().hex
        try:
            self._put(overwrite=False, what="create")
        except StateStoreError as ex:
            if error_code(ex.__cause__) != "ParameterAlreadyExists":
                raise
            self._take_over_stale()
        self.held = True

    def _take_over_stale(self) -> None:
        holder = self._holder()
        if holder is None:  # released meanwhile: an ordinary create again (atomic)
            self._put(overwrite=False, what="create")
            return
        if float(holder.get("expires_s", 0)) > self.clock.now():
            raise LockHeldError(f"{self.name} held by {holder.get('owner')}")
        stale = str(holder.get("token", ""))
        marker = f"{self.name}-takeover-{stale or 'untokened'}"
        try:
            self.ssm.put_parameter(Name=marker, Value=self.owner, Type="String", Overwrite=False)
        except AWS_ERRORS as ex:
            if error_code(ex) == "ParameterAlreadyExists":
                raise LockHeldError(f"{self.name}: another run is taking over the expired lock") from ex
            raise domain_error(ex, "put_parameter (lock takeover)", StateStoreError) from ex
        try:
            now = self._holder()
            if now is None or str(now.get("token", "")) != stale:
                raise LockHeldError(f"{self.name} was taken by {None if now is None else now.get('owner')}")
            self._put(overwrite=True, what="takeover")
        finally:
            # Once the lock no longer holds the stale token the marker guards nothing (a late taker re-reads the
            # token and gives up), so it is removed either way.
            with contextlib.suppress(*AWS_ERRORS):
                self.ssm.delete_parameter(Name=marker)

    def renew(self) -> None:
        """Extend the expiry (at most once per `renew_every_s`); LockLostError if another run holds it now."""
        if not self.held or self.clock.now() - self.renewed_s < self.renew_every_s:
            return
        try:
            holder = self._holder()
            if holder is None or str(holder.get("token", "")) != self.token:
                self.held = False
                who = "nobody" if holder is None else holder.get("owner")
                raise LockLostError(f"{self.name} is no longer ours (held by {who}): stopping before any further write")
            self._put(overwrite=True, what="renew")
        except ThrottledError:
            return  # tried again at the next poll: the TTL leaves ten renewal periods of margin

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._holder()
        if holder is None or str(holder.get("token", "")) != self.token:
            return  # taken over after we stopped renewing: the lock is someone else's now
        try:
            self.ssm.delete_parameter(Name=self.name)
        except AWS_ERRORS as ex:
            if error_code(ex) != "ParameterNotFound":
                raise domain_error(ex, "delete_parameter (lock)", StateStoreError) from ex


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
