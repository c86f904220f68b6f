"""Talking to the forge a CI pipeline runs on (GitHub, GitLab): one plan comment per pull or
merge request, kept up to date. Only ``reconciler.errors``, ``reconciler.redirects`` and the
HTTP transport the API clients use (``reconciler.cloud.transport``) below this package."""
