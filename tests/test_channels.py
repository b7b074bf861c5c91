"""Channels against real peers: aiosmtpd (plain, STARTTLS, SSL, login), loopback HTTP servers playing the
SMS providers and robot webhooks; signatures recomputed here from the providers' documented algorithms."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import mailbox
import smtplib
import ssl
import threading
from email import message_from_bytes, policy
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from conftest import HttpRecorder, free_port

from duban.config import Settings
from duban.notify import local_senders, senders
from duban.notify.email import SmtpSender, parse_smtp_url
from duban.notify.robot import RobotSender
from duban.notify.sms import sms_sender
from duban.outbox import Outgoing, SendError

NOW = dt.datetime(2020, 10, 29, 1, 0, tzinfo=dt.UTC)


def outgoing(channel="email", address="wang@example.org", **data) -> Outgoing:
    data = {"name": "王主任", "from_name": "县扶贫办督办",
            "sms_params": {"name": "王主任", "count": "3", "first": "所有扶贫项目全面开工", "overdue": "1"}, **data}
    return Outgoing(1, "notice/p/20201029T010000/wang/email/abc", "p", "wang", channel, address,
                    "【督办提醒】3项工作即将到期", "王主任同志：\n\n请按时完成。",
                    "<p>王主任同志：</p><p>请按时完成。</p>", data, 0)


def send_one(sender, row) -> None:
    sender.open()
    try:
        sender.send(row, NOW)
    finally:
        sender.close()


# --- email -----------------------------------------------------------------------------------------------------


def test_email_headers_encoding_and_both_parts(smtp_sink):
    send_one(SmtpSender.from_url(smtp_sink.url), outgoing())
    raw = smtp_sink.envelopes[0].original_content
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n")[0]  # Chinese headers are encoded words, not raw UTF-8
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "【督办提醒】3项工作即将到期"
    assert message["To"].addresses[0].display_name == "王主任"
    assert message["To"].addresses[0].addr_spec == "wang@example.org"
    assert message["From"].addresses[0].display_name == "县扶贫办督办"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().startswith("王主任同志")
    assert "<p>请按时完成。</p>" in message.get_body(("html",)).get_content()
    assert message["Message-ID"].endswith("@duban.local>")
    assert smtp_sink.envelopes[0].mail_from == "duban@example.org"


def test_one_connection_per_batch(smtp_sink):
    sessions = []
    original = smtp_sink.handle_DATA

    async def counting(server, session, envelope):
        sessions.append(id(session))
        return await original(server, session, envelope)

    smtp_sink.handle_DATA = counting
    sender = SmtpSender.from_url(smtp_sink.url)
    sender.open()
    for number in range(5):
        sender.send(outgoing(address=f"p{number}@example.org"), NOW)
    sender.close()
    assert len(sessions) == 5 and len(set(sessions)) == 1


def _certificate(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2100, 1, 1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class _Auth:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")


@pytest.mark.parametrize("mode", ["plain", "starttls", "ssl"])
def test_email_security_modes_and_login(tmp_path, mode):
    from aiosmtpd.controller import Controller
    from conftest import SmtpSink

    sink, auth, context = SmtpSink(), _Auth(), _certificate(tmp_path)
    # (aiosmtpd answers a wrong password by going silent, so refused logins are not tested here)
    options = {"plain": {"auth_require_tls": False},
               "starttls": {"tls_context": context, "require_starttls": True},
               "ssl": {"ssl_context": context, "auth_require_tls": False}}[mode]
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=auth, auth_required=True,
                            server_hostname="127.0.0.1", **options)
    controller.start()
    try:
        scheme = "smtps" if mode == "ssl" else "smtp"
        tls = "&starttls=1" if mode == "starttls" else ""
        url = f"{scheme}://duban%40example.org:s3cret@127.0.0.1:{port}?from=duban@example.org&verify=0{tls}"
        send_one(SmtpSender.from_url(url), outgoing())
    finally:
        controller.stop()
    assert auth.logins[0] == ("duban@example.org", "s3cret")
    assert len(sink.messages) == 1 and sink.messages[0]["Subject"] == "【督办提醒】3项工作即将到期"


def test_smtp_down_is_a_clear_transient_error():
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{free_port()}?from=duban@example.org&timeout=2")
    with pytest.raises(SendError) as caught:
        sender.open()
    assert "cannot connect" in str(caught.value) and not caught.value.permanent


@pytest.mark.parametrize(("url", "message"), [
    ("smtpx://host", "unknown scheme 'smtpx'"),
    ("smtp://", "no host"),
    ("smtp://host:587?starttls=1", "say who the mail is from"),
    ("smtp://host?from=a@b.c&tls=1", "unknown option(s) tls"),
    ("smtp://host:port?from=a@b.c", "Port could not be cast"),
])
def test_bad_smtp_urls_name_the_setting(url, message):
    with pytest.raises(ValueError, match="smtp_url") as caught:
        parse_smtp_url(url, "smtp_url")
    assert message in str(caught.value)


def test_password_is_hidden_in_errors():
    with pytest.raises(ValueError) as caught:
        parse_smtp_url("smtp://user:topsecret@host:25", "smtp_url")
    assert "topsecret" not in str(caught.value) and "***" in str(caught.value)


def test_settings_choose_the_channels(tmp_path):
    settings = Settings(var_dir=str(tmp_path), smtp_url="smtps://u:p@mail.example.org?from=d@example.org",
                        sms_url="aliyun://K:S@dysmsapi.aliyuncs.com?sign=云阳督办&template=SMS_1",
                        dingtalk_url="dingtalk://token/", wecom_url="https://qyapi.weixin.qq.com/robot?key=k")
    chosen = senders(settings)
    assert chosen["email"].where == "smtps://mail.example.org:465"
    assert chosen["sms"].where == "aliyun://dysmsapi.aliyuncs.com"
    assert type(chosen["dingtalk"]).__name__ == type(chosen["wecom"]).__name__ == "RobotSender"
    with pytest.raises(ValueError, match="sms_url"):
        senders(Settings(sms_url="twilio://x:y@api"))
    with pytest.raises(ValueError, match="dingtalk_url"):
        senders(Settings(dingtalk_url="nosuchrobot://x"))


# --- the local default -----------------------------------------------------------------------------------------


def test_local_default_writes_a_maildir_and_json_lines(tmp_path):
    chosen = local_senders(Settings(var_dir=str(tmp_path)))
    send_one(chosen["email"], outgoing())
    send_one(chosen["sms"], outgoing("sms", "13800000001"))
    box = mailbox.Maildir(tmp_path / "outbox" / "maildir", create=False)
    message = message_from_bytes(box[next(iter(box.keys()))].as_bytes(), policy=policy.default)
    assert message["Subject"] == "【督办提醒】3项工作即将到期"
    line = json.loads((tmp_path / "outbox" / "sms.jsonl").read_text(encoding="utf-8"))
    assert line["to"] == "13800000001" and line["template_params"]["count"] == "3"


# --- SMS providers and robots on a loopback HTTP server -----------------------------------------------------


@pytest.fixture
def http_peer():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HttpRecorder)
    server.requests, server.reply = [], (200, {})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def _rfc3986(text: str) -> str:
    # Written from the documentation, independently of duban.notify.sms: encode all but A-Z a-z 0-9 - _ . ~
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.~") else
                   "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


def test_aliyun_request_is_signed_as_documented(http_peer):
    http_peer.reply = (200, {"Code": "OK", "Message": "OK", "BizId": "1", "RequestId": "r"})
    url = (f"aliyun://LTAIkey:theSecret@dysmsapi.aliyuncs.com?sign={quote('云阳督办')}&template=SMS_123"
           f"&params=name,count&endpoint={http_peer.base}/")
    send_one(sms_sender(url), outgoing("sms", "13800000001"))
    request = http_peer.requests[0]
    assert request["method"] == "GET" and request["headers"]["Host"] == "dysmsapi.aliyuncs.com"
    params = dict(parse_qsl(urlsplit(request["path"]).query, keep_blank_values=True))
    signature = params.pop("Signature")
    canonical = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items()))
    to_sign = "GET&%2F&" + _rfc3986(canonical)
    expected = base64.b64encode(hmac.new(b"theSecret&", to_sign.encode(), hashlib.sha1).digest()).decode()
    assert signature == expected
    assert params["Action"] == "SendSms" and params["SignName"] == "云阳督办" and params["TemplateCode"] == "SMS_123"
    assert params["PhoneNumbers"] == "13800000001" and params["AccessKeyId"] == "LTAIkey"
    assert params["Timestamp"] == "2020-10-29T01:00:00Z" and params["SignatureMethod"] == "HMAC-SHA1"
    assert json.loads(params["TemplateParam"]) == {"name": "王主任", "count": "3"}


def test_aliyun_refusal_is_permanent_and_named(http_peer):
    http_peer.reply = (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
    url = f"aliyun://k:s@dysmsapi.aliyuncs.com?sign=x&template=SMS_1&endpoint={http_peer.base}"
    with pytest.raises(SendError, match="MOBILE_NUMBER_ILLEGAL") as caught:
        send_one(sms_sender(url), outgoing("sms", "13800000001"))
    assert caught.value.permanent


def test_tencent_request_is_signed_tc3_as_documented(http_peer):
    http_peer.reply = (200, {"Response": {"SendStatusSet": [{"Code": "Ok", "Message": "send success"}],
                                          "RequestId": "r"}})
    url = (f"tencent://AKIDid:tcSecret@sms.tencentcloudapi.com?app=1400000000&sign={quote('云阳督办')}"
           f"&template=449739&params=count,first&endpoint={http_peer.base}")
    send_one(sms_sender(url), outgoing("sms", "13800000001"))
    request = http_peer.requests[0]
    headers, body = request["headers"], request["body"]
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    timestamp = headers["X-TC-Timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    day = dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%d")
    canonical = (f"POST\n/\n\ncontent-type:{headers['Content-Type']}\nhost:{headers['Host']}\n\n"
                 f"content-type;host\n{hashlib.sha256(body).hexdigest()}")
    scope = f"{day}/sms/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = hmac.new(("TC3" + "tcSecret").encode(), day.encode(), hashlib.sha256).digest()
    key = hmac.new(key, b"sms", hashlib.sha256).digest()
    key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    assert headers["Authorization"] == (f"TC3-HMAC-SHA256 Credential=AKIDid/{scope}, "
                                        f"SignedHeaders=content-type;host, Signature={signature}")
    payload = json.loads(body)
    assert payload["PhoneNumberSet"] == ["+8613800000001"] and payload["SmsSdkAppId"] == "1400000000"
    assert payload["SignName"] == "云阳督办" and payload["TemplateParamSet"] == ["3", "所有扶贫项目全面开工"]


def test_tencent_error_answer_fails_the_send(http_peer):
    http_peer.reply = (200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}}})
    url = f"tencent://a:b@sms.tencentcloudapi.com?app=1&sign=x&template=1&endpoint={http_peer.base}"
    with pytest.raises(SendError, match="SignatureFailure"):
        send_one(sms_sender(url), outgoing("sms", "13800000001"))


def test_generic_gateway_posts_the_json_template(http_peer):
    send_one(sms_sender(f"{http_peer.base}/send?token=t1&template=T9"), outgoing("sms", "13800000001"))
    request = http_peer.requests[0]
    assert request["path"] == "/send?token=t1&template=T9"
    body = json.loads(request["body"])
    assert body["mobile"] == "13800000001" and body["content"].startswith("王主任同志")
    assert body["template"] == "T9" and body["params"]["first"] == "所有扶贫项目全面开工"


def test_gateway_server_error_is_transient(http_peer):
    http_peer.reply = (503, {"error": "busy"})
    with pytest.raises(SendError, match="HTTP 503") as caught:
        send_one(sms_sender(f"{http_peer.base}/send"), outgoing("sms", "13800000001"))
    assert not caught.value.permanent


@pytest.mark.parametrize("url", ["aliyun://dysmsapi.aliyuncs.com?sign=x&template=y", "aliyun://k:s@h?sign=x",
                                 "tencent://a:b@h?sign=x&template=1", "ftp://x"])
def test_bad_sms_urls_name_the_setting(url):
    with pytest.raises(ValueError, match="sms_url"):
        sms_sender(url, "sms_url")


def test_dingtalk_webhook_gets_markdown(http_peer):
    http_peer.reply = (200, {"errcode": 0, "errmsg": "ok"})
    row = outgoing("dingtalk", "")
    send_one(RobotSender.from_url("dingtalk", f"{http_peer.base}/robot/send?access_token=t"), row)
    body = json.loads(http_peer.requests[0]["body"])
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == row.subject
    http_peer.reply = (200, {"errcode": 310000, "errmsg": "keywords not in content"})
    with pytest.raises(SendError, match="310000"):
        send_one(RobotSender.from_url("dingtalk", f"{http_peer.base}/robot/send"), row)


def test_wecom_through_apprise_json_reaches_the_webhook(http_peer):
    row = outgoing("wecom", "")
    port = http_peer.server_address[1]
    send_one(RobotSender.from_url("wecom", f"json://127.0.0.1:{port}/hook"), row)
    body = json.loads(http_peer.requests[0]["body"])
    assert body["title"] == row.subject and "请按时完成" in body["message"]
    http_peer.reply = (500, {})
    with pytest.raises(SendError):
        send_one(RobotSender.from_url("wecom", f"json://127.0.0.1:{port}/hook"), row)


# --- issue 14: timeouts that hold, refusals told apart ------------------------------------------------------------


def _dribbling_server(stop: threading.Event) -> int:
    """A server that greets one byte at a time, a byte every 0.1 s, and never finishes its line."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        while not stop.is_set():
            try:
                connection.sendall(b"2")
            except OSError:
                break
            stop.wait(0.1)
        connection.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_a_dribbling_smtp_server_cannot_hold_a_send_past_its_timeout():
    stop = threading.Event()
    sender = SmtpSender.from_url(f"smtp://127.0.0.1:{_dribbling_server(stop)}?from=duban@example.org&timeout=0.5")
    outcome: list = []

    def connect() -> None:
        try:
            sender.open()
        except SendError as error:
            outcome.append(error)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(30)  # a socket timeout alone never fires: every byte arrives within it
    stop.set()
    assert outcome, "open() was still waiting for the greeting"
    assert "no answer within 0.5 s" in str(outcome[0]) and outcome[0].unreachable and not outcome[0].permanent


@pytest.mark.parametrize(("error", "permanent", "refused", "unreachable"), [
    (smtplib.SMTPRecipientsRefused({"a@x.cn": (550, b"5.1.1 no such user")}), True, True, False),
    (smtplib.SMTPRecipientsRefused({"a@x.cn": (550, b"mailbox unavailable")}), False, True, False),
    (smtplib.SMTPRecipientsRefused({"a@x.cn": (450, b"4.2.1 try later")}), False, False, False),
    (smtplib.SMTPDataError(554, b"5.7.1 too many messages, try again later"), False, False, False),
    (smtplib.SMTPSenderRefused(550, b"too many mails from you", "duban@x.cn"), False, False, False),
    (smtplib.SMTPDataError(421, b"closing"), False, False, True),
    (smtplib.SMTPServerDisconnected("gone"), False, False, True),
])
def test_smtp_refusals_are_told_apart(error, permanent, refused, unreachable):
    from duban.notify.email import classify

    failure = classify(error, "smtp://mail")
    assert (failure.permanent, failure.refused, failure.unreachable) == (permanent, refused, unreachable)


ALIYUN_ANSWERS = {"isv.BUSINESS_LIMIT_CONTROL": False, "isv.AMOUNT_NOT_ENOUGH": False, "isp.SYSTEM_ERROR": False,
                  "isv.MOBILE_NUMBER_ILLEGAL": True, "isv.SMS_TEMPLATE_ILLEGAL": True}
TENCENT_STATUSES = {"LimitExceeded.PhoneNumberDailyLimit": False, "LimitExceeded.DeliveryFrequencyLimit": False,
                    "FailedOperation.InsufficientBalanceInSmsPackage": False,
                    "FailedOperation.PhoneNumberInBlacklist": True, "InvalidParameterValue.IncorrectPhoneNumber": True}


def _permanence(http_peer, url: str, answers: dict, reply) -> dict[str, bool]:
    seen = {}
    for code in answers:
        http_peer.reply = (200, reply(code))
        with pytest.raises(SendError, match=code) as caught:
            send_one(sms_sender(url), outgoing("sms", "13800000001"))
        seen[code] = caught.value.permanent
    return seen


def test_aliyun_rate_limits_are_retried_and_bad_numbers_are_not(http_peer):
    url = f"aliyun://k:s@dysmsapi.aliyuncs.com?sign=x&template=SMS_1&endpoint={http_peer.base}"
    seen = _permanence(http_peer, url, ALIYUN_ANSWERS, lambda code: {"Code": code, "Message": "m"})
    assert seen == ALIYUN_ANSWERS


def test_tencent_send_status_limits_are_retried_and_bad_numbers_are_not(http_peer):
    url = f"tencent://a:b@sms.tencentcloudapi.com?app=1&sign=x&template=1&endpoint={http_peer.base}"
    seen = _permanence(http_peer, url, TENCENT_STATUSES, lambda code: {
        "Response": {"SendStatusSet": [{"Code": code, "Message": "m"}], "RequestId": "r"}})
    assert seen == TENCENT_STATUSES


def test_a_hanging_sms_gateway_is_cut_at_the_timeout_and_called_unreachable():
    import socket

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, reads nothing, never answers
    try:
        sender = sms_sender(f"http://127.0.0.1:{listener.getsockname()[1]}/send")
        sender.send_timeout = 0.4
        with pytest.raises(SendError, match=r"no answer within 0.4 s") as caught:
            send_one(sender, outgoing("sms", "13800000001"))
    finally:
        listener.close()
    assert caught.value.unreachable and not caught.value.permanent


def test_robot_timeouts_fit_the_send_budget():
    sender = RobotSender.from_url("dingtalk", "dingtalk://token/")
    sender.send_timeout = 6.0
    sender.open()
    plugin = next(iter(sender._client))
    assert plugin.request_rate_per_sec + plugin.socket_connect_timeout + plugin.socket_read_timeout <= 6.0
    sender.close()


def test_a_robot_that_fails_names_itself_without_its_token(http_peer):
    """A robot's token is its address: a failed send says where, masked, so `duban outbox` never shows the key."""
    token = "0123456789abcdef0123456789abcdef"
    sender = RobotSender.from_url("dingtalk", f"dingtalk://{token}/")
    sender.send_timeout = 2.0  # Apprise reaches for oapi.dingtalk.com, which this closed network refuses at once
    with pytest.raises(SendError) as failure:
        send_one(sender, outgoing("dingtalk", address=""))
    assert token not in str(failure.value) and token not in sender.where
    assert "dingtalk://" in str(failure.value)
    http_peer.reply = (500, {"errmsg": f"bad token {token}"})
    with pytest.raises(SendError) as failure:
        send_one(RobotSender.from_url("dingtalk", f"{http_peer.base}/robot/send?access_token={token}"),
                 outgoing("dingtalk", address=""))
    assert token not in str(failure.value)
