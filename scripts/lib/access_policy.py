"""Authorization policies in a deployment's configuration merge: a bare ``*`` is refused.

A component's ``accessControl`` (``{"aws.greengrass.ipc.pubsub": {"<policy id>": {"operations": [...],
"resources": [...]}}}``) is what limits it on the device; ``"operations": ["*"]`` or ``"resources":
["*"]`` lets it do anything a service offers on every topic or path. Both deployment validators (the
fleet's and the local runtime's) refuse it unless the operator passes ``--allow-wildcard-access``.
"""

from __future__ import annotations

from typing import Any

ALLOW_FLAG = "--allow-wildcard-access"
_LISTS = ("operations", "resources")


def wildcard_problems(merge: Any) -> list[str]:
    """Where ``merge`` (a parsed configurationUpdate.merge) grants a bare ``*``; empty when nowhere."""
    access = merge.get("accessControl") if isinstance(merge, dict) else None
    if not isinstance(access, dict):
        return []
    problems = []
    for service, policies in access.items():
        for policy_id, policy in (policies.items() if isinstance(policies, dict) else []):
            for key in _LISTS:
                values = policy.get(key) if isinstance(policy, dict) else None
                if isinstance(values, list) and "*" in values:
                    problems.append(
                        f"accessControl.{service}.{policy_id}.{key} contains a bare '*' (every {key[:-1]} is "
                        f"allowed); name them, or pass {ALLOW_FLAG} if that is what you mean"
                    )
    return problems
