import smtplib
from email.message import EmailMessage


def test_smtp_sink_receives(smtp_sink):
    message = EmailMessage()
    message["Subject"] = "督办提醒"
    message["From"] = "duban@example.org"
    message["To"] = "王主任 <wang@example.org>"
    message.set_content("正文")
    with smtplib.SMTP("127.0.0.1", smtp_sink.port) as client:
        client.send_message(message)
    assert smtp_sink.messages[0]["Subject"] == "督办提醒"


def test_mini_store_has_occurrences(mini_store):
    from sqlalchemy import func, select

    from duban.models import OccurrenceRow

    with mini_store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(OccurrenceRow)).scalar() == 29
