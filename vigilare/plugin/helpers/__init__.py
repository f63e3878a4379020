"""Helpers for writing scenarios, public through :mod:`vigilare.plugin` (built-ins use them too).

- :mod:`~vigilare.plugin.helpers.wording`: read the timestamps AWS data carries, and say times,
  ages and key ids in the plain words finding titles use.
- :mod:`~vigilare.plugin.helpers.policies`: read IAM and S3 policy documents (who is allowed what).
- :mod:`~vigilare.plugin.helpers.deadlines`: find the deadline AWS states in a Health event.
- :mod:`~vigilare.plugin.helpers.instances`: tell GPU and accelerated instance types by name.

Import them from :mod:`vigilare.plugin`, not from here: that module is the stable surface.
"""
