"""The Python TeaL dispatcher's protocol models, written as the original has them.

pydantic 1.x models of the frames a client sends (ClientMessage) and of the
frames the dispatcher sends (ServerMessage), used by the tests to check that
this service is a drop-in for the original's clients.
"""

import sys
from datetime import datetime
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import AnyHttpUrl, BaseModel

# teal.amq's message models, shared by every Python peer of the tests.
sys.path.insert(
    0, str(Path(__file__).resolve().parents[4] / "packages" / "messages" / "test" / "python")
)
from teal_amq_models import (  # noqa: E402
    CallbackMessage,
    OpenIDCIBACallbackMessage,
    PowensWebhookMessage,
)


# Client -> server.


class CallbackCreation(BaseModel):
    """Create a callback state: where to redirect, whether to fetch the fragment."""

    type: Literal["callback"]
    state: str
    final_redirect_url: Optional[AnyHttpUrl] = None
    with_fragment: bool = False
    expires_at: datetime


class CallbackRegistration(BaseModel):
    type: Literal["callback"]
    state: str


class OpenIDCIBACallbackRegistration(BaseModel):
    type: Literal["openid_ciba_callback"]
    request_id: str


class PowensDomainRegistration(BaseModel):
    """Register to webhooks of a Powens domain (the full domain, as messages carry it)."""

    type: Literal["powens_domain"]
    powens_domain: str


class ClientMessage(BaseModel):
    create: Optional[CallbackCreation] = None
    register_to: Optional[
        Union[CallbackRegistration, OpenIDCIBACallbackRegistration, PowensDomainRegistration]
    ] = None


# Server -> client.


class CallbackCreationFailure(BaseModel):
    type: Literal["callback_creation_failure"] = "callback_creation_failure"
    state: str
    detail: str


# The dispatcher's frames are the messages with their type (first on the wire).


class CallbackServerMessage(CallbackMessage):
    type: Literal["callback"] = "callback"


class OpenIDCIBACallbackServerMessage(OpenIDCIBACallbackMessage):
    type: Literal["openid_ciba_callback"] = "openid_ciba_callback"


class PowensWebhookServerMessage(PowensWebhookMessage):
    type: Literal["powens_webhook"] = "powens_webhook"


ServerMessage = Union[
    CallbackCreationFailure,
    CallbackServerMessage,
    OpenIDCIBACallbackServerMessage,
    PowensWebhookServerMessage,
]
