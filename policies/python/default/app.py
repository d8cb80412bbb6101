"""The component's entry point: exports `default_policy.decide`."""

from baton_policy import export

import default_policy

Policy = export(
    default_policy.decide,
    name="baton-default-policy-python",
    version="0.1.0",
    description="The seed GitOps flow as a policy, in Python: dev by commit, staging and prod "
    "by merge request, health-gated, rollback to the last good version",
    authors=["The Baton developers"],
)
