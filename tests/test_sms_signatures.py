"""duban's hand-written SMS signers held to the providers' own answers, not to a second reading of their documents.

Three kinds of check, for Aliyun (RPC signature, HMAC-SHA1, dysmsapi 2017-05-25 SendSms) and Tencent Cloud
(TC3-HMAC-SHA256, sms 2021-01-11 SendSms):
- the worked examples printed in the providers' signature documents (no package needed);
- the official SDKs' signing code run on exactly duban's inputs (fixed keys, timestamp, nonce);
- duban's request as a loopback HTTP server receives it, next to the request the official SDK sends for the
  same message to the same server: same fields, headers, action and version, and a signature the SDK's own
  code recomputes over the bytes received.
The SDKs come with the test extra (`pip install -e ".[test]"`); without them those tests skip, naming the package.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import warnings
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from types import ModuleType
from urllib.parse import quote, unquote, urlsplit

import pytest
from conftest import HttpRecorder

from duban.notify.sms import AliyunSms, TencentSms, aliyun_signature, sms_sender, tc3_authorization
from duban.outbox import Outgoing

TENCENT_SDK = "tencentcloud-sdk-python-sms"  # brings tencentcloud-sdk-python-common, where the TC3 signer lives
ALIYUN_SDK = "aliyun-python-sdk-dysmsapi"  # brings aliyun-python-sdk-core, where the RPC signer lives
ALIYUN_UTIL = "alibabacloud-openapi-util"  # the RPC signer of Aliyun's current (Tea) SDK line


def official(module: str, package: str) -> ModuleType:
    """Import a provider's SDK module, or skip naming the pip package that provides it."""
    return pytest.importorskip(module, reason=f"the provider's own signer is not installed: pip install {package} "
                                              f"(part of duban's test extra)")


# --- the documents' worked examples ---------------------------------------------------------------------------


def test_tc3_reproduces_tencents_worked_example():
    # Tencent Cloud API 3.0, "签名方法 v3" / "Signature v3" (cloud.tencent.com/document/api/213/30654): CVM
    # DescribeInstances, POST JSON, X-TC-Timestamp 1551113065, SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE.
    # The document prints HashedRequestPayload 35e9c5b0..., HashedCanonicalRequest 5ffe6a04... and this header.
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    authorization = tc3_authorization(secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                                      secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", host="cvm.tencentcloudapi.com",
                                      payload=payload, timestamp=1551113065, service="cvm")
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


ALIYUN_SMS_EXAMPLE = {
    # Aliyun SMS API "签名机制" (help.aliyun.com/document_detail/56189.html): SendSms with a Chinese SignName,
    # AccessKeyId testId, AccessKeySecret testSecret; the document prints StringToSign and this Signature.
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
ALIYUN_RPC_EXAMPLE = {
    # Aliyun ECS API "Request signatures" (RPC, help.aliyun.com/document_detail/25492.html): DescribeRegions,
    # AccessKeyId testid, AccessKeySecret testsecret, signed with GET.
    "AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
}


@pytest.mark.parametrize(("params", "secret", "expected"), [
    (ALIYUN_SMS_EXAMPLE, "testSecret", "zJDF+Lrzhj/ThnlvIToysFRq6t4="),
    (ALIYUN_RPC_EXAMPLE, "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
], ids=["sms-SendSms", "ecs-DescribeRegions"])
def test_aliyun_signature_reproduces_aliyuns_worked_examples(params, secret, expected):
    assert aliyun_signature(params, secret) == expected


def test_official_signers_reproduce_the_same_worked_examples():
    # The harness below trusts the SDKs; here they earn it on the documents' own numbers.
    util = official("alibabacloud_openapi_util.client", ALIYUN_UTIL)
    assert util.Client.get_rpcsignature(ALIYUN_SMS_EXAMPLE, "GET", "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_core_signature("GET", ALIYUN_RPC_EXAMPLE, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com",
               "X-TC-Timestamp": "1551113065"}
    assert tencent_sdk_authorization("POST", "/", headers, payload, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                                      "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", service="cvm").endswith(
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


# --- the official signers, on duban's own inputs ---------------------------------------------------------------


def aliyun_core_signature(method: str, params: dict[str, str], secret: str) -> str:
    """The RPC signature as aliyun-python-sdk-core composes it (the path its AcsClient signs every request by)."""
    composer = official("aliyunsdkcore.auth.composer.rpc_signature_composer", ALIYUN_SDK)
    sha_hmac1 = official("aliyunsdkcore.auth.algorithm.sha_hmac1", ALIYUN_SDK)
    return sha_hmac1.get_sign_string(composer.__compose_string_to_sign(method, dict(params)), secret + "&")


def tencent_sdk_authorization(method: str, uri: str, headers: dict[str, str], body: bytes, secret_id: str,
                              secret_key: str, service: str = "sms") -> str:
    """The Authorization header tencentcloud-sdk-python-common computes for this request (its TC3 code path)."""
    official("tencentcloud.sms.v20210111.sms_client", TENCENT_SDK)
    from tencentcloud.common.common_client import CommonClient
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.http.request import RequestInternal

    given = {name.lower(): value for name, value in headers.items()}
    header = {"Content-Type": given["content-type"], "Host": given["host"], "X-TC-Timestamp": given["x-tc-timestamp"]}
    request = RequestInternal(given["host"], method, uri, header, body)
    client = CommonClient(service, "2021-01-11", Credential(secret_id, secret_key), "ap-guangzhou")
    # AbstractClient._build_req_with_tc3_signature derives the scope's date the same way: UTC day of the timestamp.
    day = dt.datetime.fromtimestamp(int(header["X-TC-Timestamp"]), dt.UTC).strftime("%Y-%m-%d")
    signature = client._get_tc3_signature({}, request, day, service, secret_key)
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{day}/{service}/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}")


def row(address: str, params: dict[str, str]) -> Outgoing:
    """An SMS as dispatch hands it to a sender."""
    return Outgoing(id=1, key="notice/p/x/sms", plan_id="p", person_id="wang", channel="sms", address=address,
                    subject="", body_text="", body_html="", data={"sms_params": params}, attempts=0)


CASES = {
    "plain": ("云阳督办", "13800000001",
              {"name": "王主任", "count": "3", "first": "所有扶贫项目全面开工", "overdue": "1"},
              dt.datetime(2020, 10, 29, 1, 0, tzinfo=dt.UTC)),
    # Every character the two encodings treat differently: space, + / = & * ~ % and quotes.
    "reserved characters": ("县扶贫办 A+B", "13800000002",
                            {"name": "A+B/C=D&E*F~G H%20", "count": "10", "first": "\"引号\"、'单引号'、<尖括号>",
                             "overdue": "0"}, dt.datetime(2020, 10, 28, 23, 59, 59, tzinfo=dt.UTC)),
    # 00:00 in Beijing is 16:00 UTC the day before: Tencent's scope takes the UTC day.
    "Beijing midnight": ("云阳督办", "+8613800000003", {"name": "李", "count": "1", "first": "x", "overdue": "1"},
                         dt.datetime(2020, 10, 28, 16, 0, tzinfo=dt.UTC)),
    # Outside the BMP, full-width forms, an empty value.
    "astral and full-width": ("云阳督办", "13800000004", {"name": "𠀀李👍", "count": "", "first": "１２３％＆（）",
                                                          "overdue": "0"},
                              dt.datetime(2021, 1, 1, 0, 0, tzinfo=dt.UTC)),
}


def aliyun(sign: str, endpoint: str = "") -> AliyunSms:
    """duban's Aliyun sender as `aliyun://LTAIkey:theSecret@dysmsapi.aliyuncs.com?...` builds it."""
    return AliyunSms(key_id="LTAI5tKey", secret="the/Secret+=", host="dysmsapi.aliyuncs.com", sign=sign,
                     template="SMS_123456789", endpoint=endpoint)


def tencent(sign: str, endpoint: str = "") -> TencentSms:
    """duban's Tencent sender as `tencent://AKID...:key@sms.tencentcloudapi.com?...` builds it."""
    return TencentSms(secret_id="AKIDtestSecretId", secret_key="tcSecret/Key+=", host="sms.tencentcloudapi.com",
                      app="1400000000", sign=sign, template="449739", endpoint=endpoint)


@pytest.mark.parametrize("case", CASES)
def test_aliyun_signature_is_what_the_current_sdks_signer_computes(case):
    sign, address, params, now = CASES[case]
    query = aliyun(sign).signed_query(row(address, params), now, nonce="45e25e9b-0a6f-4070-8c85-2956eda1b466")
    signature = query.pop("Signature")
    util = official("alibabacloud_openapi_util.client", ALIYUN_UTIL)
    assert signature == util.Client.get_rpcsignature(query, "GET", "the/Secret+=")


@pytest.mark.parametrize("case", CASES)
def test_aliyun_signature_is_what_aliyun_sdk_core_computes(case):
    sign, address, params, now = CASES[case]
    query = aliyun(sign).signed_query(row(address, params), now, nonce="45e25e9b-0a6f-4070-8c85-2956eda1b466")
    signature = query.pop("Signature")
    assert signature == aliyun_core_signature("GET", query, "the/Secret+=")


@pytest.mark.parametrize("case", CASES)
def test_tencent_authorization_is_what_the_sdks_tc3_signer_computes(case):
    sign, address, params, now = CASES[case]
    sender = tencent(sign)
    payload = sender.payload(row(address, params))
    headers = sender.headers(payload, now)
    assert headers["Authorization"] == tencent_sdk_authorization("POST", "/", headers, payload.encode(),
                                                                 "AKIDtestSecretId", "tcSecret/Key+=")


# --- the request on the wire, next to the SDK's -------------------------------------------------------------------


@pytest.fixture
def provider(monkeypatch) -> Iterator[ThreadingHTTPServer]:
    """A loopback HTTP server standing in for the provider."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # the SDKs' requests would send loopback traffic to a proxy
    server = ThreadingHTTPServer(("127.0.0.1", 0), HttpRecorder)
    server.requests, server.reply = [], (200, {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.netloc = f"127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def received_query(path: str) -> dict[str, str]:
    """The query of a received request, decoded exactly (no '+' for space: neither side may send a bare '+')."""
    query = urlsplit(path).query
    assert "+" not in query
    pairs = [pair.split("=", 1) for pair in query.split("&")]
    decoded = {unquote(key): unquote(value) for key, value in pairs}
    assert len(decoded) == len(pairs)
    return decoded


def header(request: dict, name: str) -> str:
    """A received header, by case-insensitive name."""
    return next(value for key, value in request["headers"].items() if key.lower() == name.lower())


ALIYUN_COMMON = {"AccessKeyId", "Action", "Format", "RegionId", "Signature", "SignatureMethod", "SignatureNonce",
                 "SignatureType", "SignatureVersion", "Timestamp", "Version"}


def test_aliyun_request_on_the_wire_is_the_sdks_sendsms(provider):
    official("aliyunsdkdysmsapi.request.v20170525.SendSmsRequest", ALIYUN_SDK)
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkdysmsapi.request.v20170525.SendSmsRequest import SendSmsRequest

    provider.reply = (200, {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"})
    sign, address, params, now = CASES["reserved characters"]
    url = (f"aliyun://LTAI5tKey:{quote('the/Secret+=', safe='')}@dysmsapi.aliyuncs.com?sign={quote(sign)}"
           f"&template=SMS_123456789&endpoint=http://{provider.netloc}/")
    sender = sms_sender(url)
    sender.open()
    try:
        sender.send(row(address, params), now)
    finally:
        sender.close()
    ours = provider.requests[0]
    our_query = received_query(ours["path"])

    # The same message through the SDK: every API field duban sends must be a field of the SDK's SendSmsRequest.
    request = SendSmsRequest()
    for name, value in our_query.items():
        if name not in ALIYUN_COMMON:
            assert hasattr(request, f"set_{name}"), f"{name} is not a SendSms field"
            getattr(request, f"set_{name}")(value)
    request.set_endpoint(provider.netloc)
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    client = AcsClient("LTAI5tKey", "the/Secret+=", our_query["RegionId"], auto_retry=False)
    client.do_action_with_exception(request)
    theirs = provider.requests[1]
    their_query = received_query(theirs["path"])

    api = {k: v for k, v in our_query.items() if k not in ALIYUN_COMMON}
    assert api == {k: v for k, v in their_query.items() if k not in ALIYUN_COMMON}
    assert set(api) == {"PhoneNumbers", "SignName", "TemplateCode", "TemplateParam"}
    # The SDK also sends an empty SignatureType; every other common parameter duban sends too, with the same value.
    assert set(their_query) - {"SignatureType"} == set(our_query)
    for name in ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureVersion", "Version"):
        assert our_query[name] == their_query[name], name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", our_query["Timestamp"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", their_query["Timestamp"])
    # duban signs for the host the SDK resolves for SendSms in that region.
    assert header(ours, "Host") == client._resolve_endpoint(SendSmsRequest())
    assert urlsplit(ours["path"]).path == urlsplit(theirs["path"]).path == "/"
    # The SDK POSTs with everything in the query; duban GETs. Aliyun's RPC style takes both, signed with the verb.
    assert (ours["method"], theirs["method"]) == ("GET", "POST")

    # The SDK's code, over exactly what arrived, computes the signature that arrived (and does so for its own).
    for received, query in ((ours, our_query), (theirs, their_query)):
        unsigned = {k: v for k, v in query.items() if k != "Signature"}
        assert query["Signature"] == aliyun_core_signature(received["method"], unsigned, "the/Secret+=")


TENCENT_CLIENT_ONLY = {"x-tc-requestclient", "x-tc-language", "x-tc-traceid"}  # SDK's own annotations, optional


def test_tencent_request_on_the_wire_is_the_sdks_sendsms(provider):
    official("tencentcloud.sms.v20210111.sms_client", TENCENT_SDK)
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import models, sms_client

    provider.reply = (200, {"Response": {"SendStatusSet": [{"Code": "Ok", "Message": "send success"}],
                                   "RequestId": "r"}})
    sign, address, params, now = CASES["reserved characters"]
    url = (f"tencent://AKIDtestSecretId:{quote('tcSecret/Key+=', safe='')}@sms.tencentcloudapi.com?app=1400000000"
           f"&sign={quote(sign)}&template=449739&endpoint=http://{provider.netloc}")
    sender = sms_sender(url)
    sender.open()
    try:
        sender.send(row(address, params), now)
    finally:
        sender.close()
    ours = provider.requests[0]

    # The same message through the SDK's own SendSms model and client: an unknown field would be dropped with a
    # warning, a misspelt one would be missing from what the SDK sends.
    request = models.SendSmsRequest()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request.from_json_string(ours["body"].decode())
    assert not [str(w.message) for w in caught]
    http = HttpProfile(endpoint=provider.netloc)
    http.scheme = "http"
    client = sms_client.SmsClient(Credential("AKIDtestSecretId", "tcSecret/Key+="), header(ours, "X-TC-Region"),
                                  ClientProfile(httpProfile=http))
    client.SendSms(request)
    theirs = provider.requests[1]

    assert json.loads(ours["body"]) == json.loads(theirs["body"])
    assert json.loads(ours["body"])["TemplateParamSet"] == list(params.values())
    assert (ours["method"], ours["path"]) == (theirs["method"], theirs["path"]) == ("POST", "/")
    assert header(ours, "Content-Type").split(";")[0] == header(theirs, "Content-Type").split(";")[0]
    ours_tc = {k.lower() for k in ours["headers"] if k.lower().startswith("x-tc-")}
    theirs_tc = {k.lower() for k in theirs["headers"] if k.lower().startswith("x-tc-")}
    assert ours_tc == theirs_tc - TENCENT_CLIENT_ONLY
    for name in ("X-TC-Action", "X-TC-Version", "X-TC-Region"):
        assert header(ours, name) == header(theirs, name), name
    assert header(ours, "X-TC-Timestamp") == str(int(now.timestamp()))
    assert header(ours, "Host") == sms_client.SmsClient._endpoint
    # Same Authorization shape (credential scope, signed headers), apart from the day and the signature itself.
    def shape(value: str) -> str:
        return re.sub(r"/\d{4}-\d\d-\d\d/", "/DAY/", value.rpartition("Signature=")[0])

    assert shape(header(ours, "Authorization")) == shape(header(theirs, "Authorization"))

    # The SDK's code, over exactly what arrived, computes the Authorization that arrived (and does so for its own).
    for received in (ours, theirs):
        assert header(received, "Authorization") == tencent_sdk_authorization(
            received["method"], urlsplit(received["path"]).path, received["headers"], received["body"],
            "AKIDtestSecretId", "tcSecret/Key+=")
