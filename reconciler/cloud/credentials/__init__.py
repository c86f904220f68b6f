"""Where the credentials come from (the default chain, ``chain``) and how temporary ones stay
fresh (``refresh``): a key pair given outright (``static``), the aliyun CLI profile file
(``cli_profile``), the SDKs' INI file (``ini_file``), a role assumed through STS (``sts``), the
ECS instance's role (``ecs_metadata``) or a credentials URI (``uri``).

Clients sign with a ``CredentialsProvider``: ``current()`` before each attempt. The sources
after the environment's key (the files, the roles) are imported only when the chain gets to
them, and the network sources only when a profile or the environment names them, so a static
key costs a small plan nothing more than itself.
"""

from reconciler.cloud.credentials.chain import resolve_credentials, resolve_provider
from reconciler.cloud.credentials.model import (
    Credentials,
    CredentialsProvider,
    StaticProvider,
    as_provider,
)

__all__ = [
    "Credentials",
    "CredentialsProvider",
    "StaticProvider",
    "as_provider",
    "resolve_credentials",
    "resolve_provider",
]
