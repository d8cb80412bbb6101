"""The hostile Python policy's entry point."""

from baton_policy import export

import misbehave

Policy = export(misbehave.decide, name="baton-hostile-python", version="0.1.0",
                description="Test policy that misbehaves on purpose; settings.mode picks how")
