"""The Python original's message models (teal.amq), as pydantic 1.x models.

The interop tests' Python peers (the AMQP peer, the dispatcher client of the
service) import them from here, so that every one of them reads and writes
messages exactly as teal.amq does.
"""

from datetime import datetime
from typing import Optional

from pydantic import BaseModel, Field


class Message(BaseModel):
    timestamp: datetime = Field(default_factory=datetime.utcnow)


class CallbackMessage(Message):
    url: str
    state: str


class OpenIDCIBAPushToken(BaseModel):
    access_token: str
    token_type: str
    refresh_token: str
    expires_at: datetime
    id_token: Optional[str] = None


class OpenIDCIBAPushError(BaseModel):
    error: str
    error_description: Optional[str] = None


class OpenIDCIBACallbackMessage(Message):
    request_id: str
    access_token: Optional[str] = None
    push_token: Optional[OpenIDCIBAPushToken] = None
    push_error: Optional[OpenIDCIBAPushError] = None


class PowensHMACSignature(BaseModel):
    signature: str
    payload_prefix: str
    signature_date: Optional[datetime] = None


class PowensWebhookMessage(Message):
    domain: str
    event: str
    hmac_signature: Optional[PowensHMACSignature] = None
    user_token: Optional[str] = None
    payload: str
