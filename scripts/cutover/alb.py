"""The ALB adapters: the listener's weighted forward as the traffic router (weights 0-999 and at most five target
groups, enforced here), target health, the behaviour check through the smoke header rule, and synthetic calls through
the default action. The elbv2 client is injected."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from infra import contract
from scripts.cutover.awserrors import AWS_ERRORS, domain_error
from scripts.cutover.local import HttpSmoke, HttpSynthetic, rpc
from scripts.cutover.model import SLOTS, Slot
from scripts.cutover.ports import CutoverError, RouterError, SmokeResult, TargetHealth

# The ALB's limits for a weighted forward (the API accepts more in moto; our code enforces them).
MAX_ALB_WEIGHT = 999
MAX_FORWARD_TARGET_GROUPS = 5


class WeightError(RouterError):
    """A weighted forward the ALB would refuse: a weight outside 0-999 or more than five target groups."""


def forward_action(weights: Mapping[str, int]) -> dict[str, Any]:
    """The listener's default action for `{target group ARN: weight}`, validated against the ALB's limits."""
    if not 1 <= len(weights) <= MAX_FORWARD_TARGET_GROUPS:
        raise WeightError(f"a weighted forward takes 1-{MAX_FORWARD_TARGET_GROUPS} target groups, got {len(weights)}")
    for arn, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_ALB_WEIGHT:
            raise WeightError(f"weight {weight!r} for {arn} outside 0-{MAX_ALB_WEIGHT}")
    if sum(weights.values()) == 0:
        raise WeightError("at least one target group needs a positive weight")
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }


class AlbRouter:
    """Percentages are written as ALB weights 0-100 (a share is weight / sum, and 100 is within 0-999)."""

    def __init__(self, elbv2: Any, *, listener_arn: str, target_groups: Mapping[Slot, str]) -> None:
        self.elbv2 = elbv2
        self.listener_arn = listener_arn
        self.target_groups = dict(target_groups)

    def describe(self) -> str:
        return f"ALB listener {self.listener_arn}"

    def _listener(self) -> dict[str, Any]:
        try:
            listeners = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"]
        except AWS_ERRORS as ex:
            raise domain_error(ex, "describe_listeners") from ex
        if not listeners:
            raise RouterError(f"listener {self.listener_arn} not found")
        return dict(listeners[0])

    def check_exists(self) -> None:
        self._listener()
        try:
            found = self.elbv2.describe_target_groups(TargetGroupArns=list(self.target_groups.values()))
        except AWS_ERRORS as ex:
            raise domain_error(ex, "describe_target_groups") from ex
        arns = {tg["TargetGroupArn"] for tg in found["TargetGroups"]}
        missing = [slot for slot, arn in self.target_groups.items() if arn not in arns]
        if missing:
            raise RouterError(f"target group(s) of {', '.join(missing)} not found")

    def read_weights(self) -> dict[Slot, int]:
        actions = self._listener().get("DefaultActions", [])
        forward = next((a for a in actions if a.get("Type") == "forward"), None)
        if forward is None:
            raise RouterError(f"listener {self.listener_arn} has no forward default action")
        groups = forward.get("ForwardConfig", {}).get("TargetGroups")
        if not groups:  # a plain forward to one target group
            groups = [{"TargetGroupArn": forward.get("TargetGroupArn"), "Weight": 1}]
        by_arn = {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        unknown = set(by_arn) - set(self.target_groups.values())
        if unknown:
            raise RouterError(f"listener forwards to target groups outside the slots: {', '.join(sorted(unknown))}")
        raw = {slot: by_arn.get(arn, 0) for slot, arn in self.target_groups.items()}
        total = sum(raw.values())
        if total == 0:
            raise RouterError("every target group of the listener has weight 0")
        green = round(raw["green"] * 100 / total)
        return {"blue": 100 - green, "green": green}

    def _action(self, weights: Mapping[Slot, int]) -> dict[str, Any]:
        if sorted(weights) != sorted(SLOTS) or sum(weights.values()) != 100:
            raise WeightError(f"weights must give both slots shares summing to 100 %, got {dict(weights)}")
        return forward_action({self.target_groups[slot]: weights[slot] for slot in SLOTS})

    def planned_calls(self, weights: Mapping[Slot, int]) -> list[str]:
        action = self._action(weights)
        return [f"elbv2.modify_listener(ListenerArn={self.listener_arn!r}, DefaultActions=[{json.dumps(action)}])"]

    def write_weights(self, weights: Mapping[Slot, int]) -> None:
        action = self._action(weights)
        try:
            self.elbv2.modify_listener(ListenerArn=self.listener_arn, DefaultActions=[action])
        except AWS_ERRORS as ex:
            raise domain_error(ex, "modify_listener") from ex

    def target_health(self, slot: Slot) -> TargetHealth:
        try:
            found = self.elbv2.describe_target_health(TargetGroupArn=self.target_groups[slot])
        except AWS_ERRORS as ex:
            raise domain_error(ex, "describe_target_health") from ex
        states = [d.get("TargetHealth", {}).get("State") for d in found["TargetHealthDescriptions"]]
        # `initial` (still registering) is not healthy yet; `draining`/`unused` carry no traffic either way.
        return TargetHealth(states.count("healthy"), sum(s in ("unhealthy", "initial", "unavailable") for s in states))


Rpc = Callable[..., "tuple[int, dict[str, Any]]"]


class AlbSmoke:
    """The behaviour check through the ALB's smoke header rules: each slot is reached through its own rule (the
    colour header plus the stage's smoke token), whatever the weights, so the receiving slot is checked the same way
    whether it is green (the first migration) or blue (a reverse cutover), and the golden requests compare the two
    slots themselves rather than whatever the weighted forward picks. `token()` reads the stage's smoke token."""

    def __init__(self, router: AlbRouter, *, dns_name: str, token: Callable[[], str], call: Rpc = rpc) -> None:
        self.router = router
        self.dns_name = dns_name
        self.token = token
        self.call = call

    def check(self, slot: Slot) -> SmokeResult:
        try:
            tls = self.router._listener().get("Protocol") == "HTTPS"
            token = self.token()
        except CutoverError as ex:
            return SmokeResult(False, str(ex))
        port = 443 if tls else 80

        def call(to: Slot, method: str, params: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
            headers = {
                contract.SMOKE_HEADER_NAME: contract.smoke_header_value(to),
                contract.SMOKE_TOKEN_HEADER_NAME: token,
            }
            result: tuple[int, dict[str, Any]] = self.call(
                port, method, params, host=self.dns_name, headers=headers, tls=tls
            )
            return result

        return HttpSmoke(call).check(slot)


class AlbSynthetic:
    """Synthetic read-only calls through the ALB's default action (the weighted forward), HTTP or HTTPS as the
    listener is."""

    def __init__(self, router: AlbRouter, *, dns_name: str) -> None:
        self.router = router
        self.dns_name = dns_name

    def send(self, count: int) -> int:
        tls = self.router._listener().get("Protocol") == "HTTPS"
        return HttpSynthetic(443 if tls else 80, host=self.dns_name, tls=tls).send(count)
