"""SMS through a provider: Aliyun (signed RPC), Tencent Cloud (TC3-HMAC-SHA256), or a generic HTTP gateway.

The URL scheme picks the provider:
  aliyun://KEYID:SECRET@dysmsapi.aliyuncs.com?sign=云阳督办&template=SMS_123[&region=cn-hangzhou]
  tencent://SECRETID:SECRETKEY@sms.tencentcloudapi.com?app=1400000000&sign=云阳督办&template=123456[&region=ap-guangzhou]
  https://gateway.example/send?token=...   (POSTs the JSON of templates/sms/gateway.json)
`params=name,count,...` chooses (and for Tencent, orders) the template parameters; `endpoint=http://...`
sends the signed request somewhere else (a test server, a proxy) while signing for the real host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from duban.sending import Outgoing, SendError

DEFAULT_PARAMS = ("name", "count", "first", "overdue")


def percent_encode(text: str) -> str:
    """Aliyun's encoding: RFC 3986, UTF-8, only A-Z a-z 0-9 - _ . ~ left as they are (space is %20)."""
    return quote(text, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "GET") -> str:
    """Aliyun RPC signature: Base64(HMAC-SHA1(secret + '&', METHOD&%2F&encode(sorted canonical query)))."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def tc3_authorization(
    *, secret_id: str, secret_key: str, host: str, payload: str, timestamp: int, service: str = "sms",
    content_type: str = "application/json; charset=utf-8",
) -> str:
    """Tencent Cloud TC3-HMAC-SHA256 `Authorization` header for a POST of `payload` to `host`."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join([
        "POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(payload.encode()).hexdigest(),
    ])
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])

    def _hmac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    signing_key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders=content-type;host, "
            f"Signature={signature}")


ALIYUN_TRANSIENT = ("Throttling", "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR",
                    "isp.UNKNOWN", "BUSINESS_LIMIT", "DAY_LIMIT", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
                    "isv.BILLING_DEDUCTION_ERROR", "SignatureNonceUsed")
TENCENT_TRANSIENT = ("InternalError", "RequestLimitExceeded", "LimitExceeded", "FailedOperation.InsufficientBalance")


def aliyun_transient(code: str) -> bool:
    """An Aliyun answer that may pass later: throttling and rate limits (per minute, hour, day and number),
    the provider's own errors, an empty balance; a bad number, template, signature or permission will not."""
    return any(part in code for part in ALIYUN_TRANSIENT)


def tencent_transient(code: str) -> bool:
    """A Tencent answer (error or send status) that may pass later: internal errors, frequency and daily limits,
    an empty SMS package; a blacklisted or malformed number, an unapproved template or signature will not."""
    return code.startswith(TENCENT_TRANSIENT)


def _query(parts: Any) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}


def _hide(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@", 1) if parts.password else url


class _HttpSender:
    """An httpx client kept open for a batch; one request (connect, write, read) takes at most `timeout` seconds."""

    channel = "sms"

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._client = None

    @property
    def send_timeout(self) -> float:
        """The longest one send takes (dispatch shortens it to fit its lease)."""
        return self.timeout

    @send_timeout.setter
    def send_timeout(self, seconds: float) -> None:
        self.timeout = seconds

    def _timeouts(self) -> Any:
        import httpx

        # connect + write + read within `timeout`: a provider's time goes into the answer, so reading gets half
        t = self.timeout
        return httpx.Timeout(connect=t / 4, write=t / 4, read=t / 2, pool=t / 4)

    def open(self) -> None:
        """Start an HTTP client (connections are reused within the batch)."""
        import httpx

        self._client = httpx.Client(timeout=self._timeouts(), trust_env=False)

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        import httpx

        if self._client is None:
            self.open()
        try:
            response = self._client.request(method, url, timeout=self._timeouts(), **kwargs)
        except httpx.TimeoutException as error:
            raise SendError(f"{self.where}: no answer within {self.timeout:g} s ({type(error).__name__})",
                            unreachable=True) from None
        except httpx.TransportError as error:
            raise SendError(f"{self.where}: {type(error).__name__}: {error}", unreachable=True) from None
        except httpx.HTTPError as error:
            raise SendError(f"{self.where}: {type(error).__name__}: {error}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise SendError(f"{self.where}: HTTP {response.status_code}: {response.text[:200]}")
        return response

    @staticmethod
    def params_for(row: Outgoing, names: tuple[str, ...]) -> dict[str, str]:
        """The provider template's parameters, from what was rendered into the notification."""
        given = row.data.get("sms_params", {})
        return {name: str(given.get(name, "")) for name in names}


class AliyunSms(_HttpSender):
    """Aliyun SMS `SendSms` through the signed RPC API (GET with the signature in the query)."""

    def __init__(self, *, key_id: str, secret: str, host: str, sign: str, template: str, region: str = "cn-hangzhou",
                 endpoint: str = "", params: tuple[str, ...] = DEFAULT_PARAMS) -> None:
        super().__init__()
        self.key_id, self.secret, self.host = key_id, secret, host
        self.sign, self.template, self.region, self.names = sign, template, region, params
        self.endpoint = endpoint.rstrip("/") + "/" if endpoint else f"https://{host}/"
        self.where = f"aliyun://{host}"

    def signed_query(self, row: Outgoing, now: datetime, nonce: str | None = None) -> dict[str, str]:
        """Every query parameter of the request, the signature included."""
        params = {
            "AccessKeyId": self.key_id, "Action": "SendSms", "Format": "JSON", "PhoneNumbers": row.address,
            "RegionId": self.region, "SignName": self.sign, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex, "SignatureVersion": "1.0", "TemplateCode": self.template,
            "TemplateParam": json.dumps(self.params_for(row, self.names), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.secret)
        return params

    def send(self, row: Outgoing, now: datetime) -> None:
        """Send one SMS; Aliyun answers Code=OK or an error code."""
        query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in self.signed_query(row, now).items())
        response = self._request("GET", f"{self.endpoint}?{query}", headers={"Host": self.host})
        try:
            answer = response.json()
        except ValueError:
            raise SendError(f"{self.where}: HTTP {response.status_code}, not JSON: {response.text[:200]}") from None
        if answer.get("Code") != "OK":
            code = str(answer.get("Code", response.status_code))
            raise SendError(f"{self.where}: {code}: {answer.get('Message', '')}", permanent=not aliyun_transient(code))


class TencentSms(_HttpSender):
    """Tencent Cloud SMS `SendSms` (API 2021-01-11), signed TC3-HMAC-SHA256."""

    def __init__(self, *, secret_id: str, secret_key: str, host: str, app: str, sign: str, template: str,
                 region: str = "ap-guangzhou", endpoint: str = "", params: tuple[str, ...] = DEFAULT_PARAMS) -> None:
        super().__init__()
        self.secret_id, self.secret_key, self.host = secret_id, secret_key, host
        self.app, self.sign, self.template, self.region, self.names = app, sign, template, region, params
        self.endpoint = endpoint.rstrip("/") + "/" if endpoint else f"https://{host}/"
        self.where = f"tencent://{host}"

    def payload(self, row: Outgoing) -> str:
        """The JSON body: numbers in E.164, template parameters in the order of `params=`."""
        number = row.address if row.address.startswith("+") else f"+86{row.address}"
        body = {"PhoneNumberSet": [number], "SmsSdkAppId": self.app, "SignName": self.sign,
                "TemplateId": self.template, "TemplateParamSet": list(self.params_for(row, self.names).values())}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    def headers(self, payload: str, now: datetime) -> dict[str, str]:
        """The signed headers."""
        timestamp = int(now.timestamp())
        content_type = "application/json; charset=utf-8"
        return {
            "Authorization": tc3_authorization(secret_id=self.secret_id, secret_key=self.secret_key, host=self.host,
                                               payload=payload, timestamp=timestamp, content_type=content_type),
            "Content-Type": content_type, "Host": self.host, "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(timestamp), "X-TC-Version": "2021-01-11", "X-TC-Region": self.region,
        }

    def send(self, row: Outgoing, now: datetime) -> None:
        """Send one SMS; Tencent answers a SendStatusSet with Code=Ok, or an Error."""
        payload = self.payload(row)
        response = self._request("POST", self.endpoint, content=payload.encode(), headers=self.headers(payload, now))
        try:
            answer = response.json().get("Response", {})
        except ValueError:
            raise SendError(f"{self.where}: HTTP {response.status_code}, not JSON: {response.text[:200]}") from None
        if "Error" in answer:
            code = str(answer["Error"].get("Code", ""))
            raise SendError(f"{self.where}: {code}: {answer['Error'].get('Message', '')}",
                            permanent=not tencent_transient(code))
        statuses = answer.get("SendStatusSet") or [{}]
        if statuses[0].get("Code") != "Ok":
            code = str(statuses[0].get("Code", ""))
            raise SendError(f"{self.where}: {code}: {statuses[0].get('Message', '')}",
                            permanent=not tencent_transient(code))


class GatewaySms(_HttpSender):
    """A generic HTTP gateway: POST the JSON rendered from templates/sms/gateway.json; any 2xx is delivered."""

    def __init__(self, *, url: str, templates_dir: str = "", template: str = "",
                 params: tuple[str, ...] = DEFAULT_PARAMS) -> None:
        super().__init__()
        self.url, self.template, self.names = url, template, params
        self.templates_dir = templates_dir
        parts = urlsplit(url)
        self.where = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

    def body(self, row: Outgoing) -> str:
        """The request body from the gateway template."""
        from duban.templating import environment

        template = environment(self.templates_dir or None).get_template("sms/gateway.json")
        return template.render(mobile=row.address, text=row.body_text, template=self.template,
                               params=self.params_for(row, self.names), key=row.key, name=row.data.get("name", ""))

    def send(self, row: Outgoing, now: datetime) -> None:
        """POST one SMS to the gateway."""
        response = self._request("POST", self.url, content=self.body(row).encode(),
                                 headers={"Content-Type": "application/json; charset=utf-8"})
        if response.status_code >= 300:
            raise SendError(f"{self.where}: HTTP {response.status_code}: {response.text[:200]}",
                            permanent=400 <= response.status_code < 500)


def sms_sender(url: str, setting: str = "sms_url", templates_dir: str = "") -> _HttpSender:
    """The provider a URL names; a ValueError names the setting and what is missing."""
    parts = urlsplit(url.strip())
    query = _query(parts)
    names = tuple(n.strip() for n in query.get("params", ",".join(DEFAULT_PARAMS)).split(",") if n.strip())

    def need(*keys: str) -> None:
        missing = [k for k in keys if not query.get(k)]
        if missing:
            raise ValueError(f"{setting}: '{_hide(url)}' lacks {', '.join(missing)} "
                             f"(e.g. ?sign=云阳督办&template=SMS_123)")

    if parts.scheme in ("aliyun", "tencent"):
        if not parts.username or not parts.password:
            raise ValueError(f"{setting}: '{_hide(url)}' needs the key and secret: "
                             f"{parts.scheme}://KEYID:SECRET@host?...")
        if parts.scheme == "aliyun":
            need("sign", "template")
            return AliyunSms(key_id=unquote(parts.username), secret=unquote(parts.password),
                             host=parts.hostname or "dysmsapi.aliyuncs.com", sign=query["sign"],
                             template=query["template"], region=query.get("region", "cn-hangzhou"),
                             endpoint=query.get("endpoint", ""), params=names)
        need("app", "sign", "template")
        return TencentSms(secret_id=unquote(parts.username), secret_key=unquote(parts.password),
                          host=parts.hostname or "sms.tencentcloudapi.com", app=query["app"], sign=query["sign"],
                          template=query["template"], region=query.get("region", "ap-guangzhou"),
                          endpoint=query.get("endpoint", ""), params=names)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"{setting}: no host in '{_hide(url)}'")
        return GatewaySms(url=url.strip(), templates_dir=templates_dir, template=query.get("template", ""),
                          params=names)
    raise ValueError(f"{setting}: unknown SMS provider '{parts.scheme}' in '{_hide(url)}' "
                     f"(use aliyun://, tencent:// or an http(s):// gateway)")
