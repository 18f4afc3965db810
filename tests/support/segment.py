"""Segment calls shaped as Segment's spec shows them, signed as Segment's webhooks sign."""

from __future__ import annotations

import copy
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from tests.support.events import NOW

# From Segment's spec pages (segment.com/docs/connections/spec/track/ and .../group/),
# with recent times: a track call from analytics.js, and a group call.
TRACK: dict[str, Any] = {
    "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
    "context": {
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "page": {
            "path": "/academy/",
            "referrer": "",
            "search": "",
            "title": "Analytics Academy",
            "url": "https://segment.com/academy/",
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5) AppleWebKit/537.36",
        "ip": "108.0.78.21",
    },
    "event": "Course Clicked",
    "integrations": {},
    "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
    "properties": {"title": "Intro to Analytics"},
    "receivedAt": "2015-12-12T19:11:01.266Z",
    "sentAt": "2015-12-12T19:11:01.169Z",
    "timestamp": "2015-12-12T19:11:01.249Z",
    "type": "track",
    "userId": "AiUGstSDIg",
    "originalTimestamp": "2015-12-12T19:11:01.152Z",
}

GROUP: dict[str, Any] = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": {
        "ip": "8.8.8.8",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36",
    },
    "groupId": "0e8c78ea9d97a7b8185e8632",
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": True},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "traits": {
        "name": "Initech",
        "industry": "Technology",
        "employees": 329,
        "plan": "enterprise",
        "total billed": 830,
    },
    "type": "group",
    "userId": "97980cfea0067",
    "version": "1.1",
}


def _at(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def track(
    n: int, *, user: str = "AiUGstSDIg", hours_ago: float = 1, **fields: Any
) -> dict[str, Any]:
    """The spec's track call as message n, sent `hours_ago` hours ago."""
    call = copy.deepcopy(TRACK)
    when = NOW - timedelta(hours=hours_ago)
    call.update(
        messageId=f"ajs-{n:032x}",
        userId=user,
        timestamp=_at(when),
        originalTimestamp=_at(when),
        sentAt=_at(when),
        receivedAt=_at(when),
    )
    call.update(fields)
    return call


def group(
    group_id: str = "0e8c78ea9d97a7b8185e8632", *, user: str = "AiUGstSDIg", **traits: Any
) -> dict[str, Any]:
    """The spec's group call: `user` joins `group_id`, with the spec's traits and these."""
    call = copy.deepcopy(GROUP)
    call.update(groupId=group_id, userId=user, timestamp=_at(NOW - timedelta(hours=2)))
    call["traits"].update(traits)
    return call


def signature(secret: str, body: bytes) -> str:
    """X-Signature as Segment's Webhooks destination computes it: hex HMAC-SHA1 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post_signed(
    http: httpx.Client, payload: Any, secret: str, *, signature_of: bytes | None = None
) -> httpx.Response:
    body = orjson.dumps(payload)
    headers = {
        "content-type": "application/json",
        "x-signature": signature(secret, body if signature_of is None else signature_of),
    }
    return http.post("/v1/sources/segment", content=body, headers=headers)
