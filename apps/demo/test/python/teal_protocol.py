"""The Python TeaL dispatcher's protocol models, written as the original has them.

pydantic 1.x models of the frames a client sends (ClientMessage) and of the
frames the dispatcher sends (ServerMessage), used by the tests to check that
this service is a drop-in for the original's clients.
"""

from datetime import datetime
from typing import Literal, Optional, Union

from pydantic import AnyHttpUrl, BaseModel


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


class OpenIDCIBAPushToken(BaseModel):
    access_token: str
    token_type: str
    refresh_token: str
    expires_at: datetime
    id_token: Optional[str] = None


class OpenIDCIBAPushError(BaseModel):
    error: str
    error_description: Optional[str] = None


class PowensHMACSignature(BaseModel):
    signature: str
    payload_prefix: str
    signature_date: Optional[datetime] = None


class CallbackServerMessage(BaseModel):
    type: Literal["callback"] = "callback"
    timestamp: datetime
    url: str
    state: str


class OpenIDCIBACallbackServerMessage(BaseModel):
    type: Literal["openid_ciba_callback"] = "openid_ciba_callback"
    timestamp: datetime
    request_id: str
    access_token: Optional[str] = None
    push_token: Optional[OpenIDCIBAPushToken] = None
    push_error: Optional[OpenIDCIBAPushError] = None


class PowensWebhookServerMessage(BaseModel):
    type: Literal["powens_webhook"] = "powens_webhook"
    timestamp: datetime
    domain: str
    event: str
    hmac_signature: Optional[PowensHMACSignature] = None
    user_token: Optional[str] = None
    payload: str


ServerMessage = Union[
    CallbackCreationFailure,
    CallbackServerMessage,
    OpenIDCIBACallbackServerMessage,
    PowensWebhookServerMessage,
]
